"""Does the Style-DiT take the voice from the identity it is given, or from the units?

Usage: .venv/bin/python scripts/identity_swap.py RUN --data MANIFEST [--per-speaker N]

For the first N test clips of each held-out speaker (the true units and the aligner's lip
features, as `train evaluate-voice` gives them), the DiT speaks once with every test speaker's
voice as the reference (the Resemblyzer centroid of that speaker's test clips), same seed. The
printed matrix is the Resemblyzer cosine of each take with each speaker's centroid: row = whose
clip, column = whose voice was asked for, cell = similarity to the voice asked for. A DiT that
follows the identity scores high in every cell; one that takes the voice from the units
scores high on the diagonal only.
`follow` = mean similarity to the voice asked for minus mean similarity to the clip's own
speaker, over the swapped takes: near 0 or below means the identity is ignored.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.evaluation.speaker import SpeakerEncoder, cosine
from imagintalk_plugin.nn.acoustic_presets import acoustic_preset
from imagintalk_plugin.pipeline.acoustic_data import content_conditions
from imagintalk_plugin.pipeline.acoustic_models import load_voice_models
from imagintalk_plugin.pipeline.semantic_models import load_aligner, load_units
from imagintalk_plugin.pipeline.training_data import load_semantic_corpus
from imagintalk_plugin.pipeline.voice_generation import (
    VoiceConditions,
    VoiceOverrides,
    synthesize_voice,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="the run's manifest.jsonl")
    parser.add_argument("--per-speaker", type=int, default=4, metavar="N")
    args = parser.parse_args()
    corpus = drive(load_semantic_corpus(args.data)).corpus
    units = load_units(args.run)
    aligner = load_aligner(args.run, units, "cpu")
    voice_models = load_voice_models(args.run, device="cpu")
    voice_models.check_aligner(aligner, args.run / "dit")
    meta = json.loads((args.run / "dit" / "config.json").read_text(encoding="utf-8"))["meta"]
    settings = acoustic_preset(meta["preset"]).sampler
    encoder = SpeakerEncoder()
    by_speaker = defaultdict(list)
    for utt in corpus.split("test"):
        by_speaker[utt.speaker].append(utt)
    speakers = sorted(by_speaker)
    centroid = {}
    for speaker in speakers:
        mean = np.mean([encoder.embed(u.audio) for u in by_speaker[speaker]], axis=0)
        centroid[speaker] = (mean / np.linalg.norm(mean)).astype(np.float32)
    print("clip \\ voice asked " + "".join(s.rjust(8) for s in speakers))
    follow = []
    for source in speakers:
        cells = []
        for target in speakers:
            to_target, to_source = [], []
            for utt in by_speaker[source][: args.per_speaker]:
                ids, lip = content_conditions(utt, units, aligner)
                assert utt.face_embedding is not None
                assert utt.expressions is not None
                conditions = VoiceConditions(ids, lip, utt.face_embedding, utt.expressions)
                overrides = VoiceOverrides(reference_voice=centroid[target])
                samples, _ = synthesize_voice(voice_models, conditions, overrides, settings)
                made = encoder.embed(samples)
                to_target.append(cosine(made, centroid[target]))
                to_source.append(cosine(made, centroid[source]))
            cells.append(float(np.mean(to_target)))
            if target != source:
                follow.append(float(np.mean(to_target) - np.mean(to_source)))
        print(source.ljust(19) + "".join(f"{c:8.3f}" for c in cells), flush=True)
    print(f"follow: {np.mean(follow):+.3f}")


if __name__ == "__main__":
    main()
