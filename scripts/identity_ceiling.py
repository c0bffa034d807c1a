"""Is the face the limit of speaker similarity, or the Style-DiT's rendering of new voices?

Usage: .venv/bin/python scripts/identity_ceiling.py RUN --data MANIFEST [--per-speaker N]

For the first N test clips of each held-out speaker, the Style-DiT (given the true units and
the aligner's lip features, as `train evaluate-voice` does) speaks twice with the same seed:
- face: the identity from the clip's face, as in the product's default;
- voice: the identity from the speaker's true voice (Resemblyzer embedding averaged over the
  speaker's OTHER test clips, so not the clip's own audio), the editor's reference-voice path.
Each take's Resemblyzer cosine with the clip's true audio is printed per speaker. If the voice
row is no better than the face row, a better face -> voice mapping cannot raise the similarity:
the DiT's rendering of voices it never heard is the limit.
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
    parser.add_argument("--per-speaker", type=int, default=6, metavar="N")
    args = parser.parse_args()
    corpus = drive(load_semantic_corpus(args.data)).corpus
    units = load_units(args.run)
    aligner = load_aligner(args.run, units, "cpu")
    voice_models = load_voice_models(args.run, device="cpu")
    voice_models.check_aligner(aligner, args.run / "dit")  # as `train evaluate-voice` does
    meta = json.loads((args.run / "dit" / "config.json").read_text(encoding="utf-8"))["meta"]
    settings = acoustic_preset(meta["preset"]).sampler
    encoder = SpeakerEncoder()
    by_speaker = defaultdict(list)
    for utt in corpus.split("test"):
        by_speaker[utt.speaker].append(utt)
    scores: dict[str, dict[str, list[float]]] = {"face": {}, "voice": {}}
    for speaker, utts in sorted(by_speaker.items()):
        truth = {u.id: encoder.embed(u.audio) for u in utts}
        for utt in utts[: args.per_speaker]:
            others = np.mean([truth[o.id] for o in utts if o.id != utt.id], axis=0)
            reference = (others / np.linalg.norm(others)).astype(np.float32)
            ids, lip = content_conditions(utt, units, aligner)
            assert utt.face_embedding is not None
            assert utt.expressions is not None
            conditions = VoiceConditions(ids, lip, utt.face_embedding, utt.expressions)
            for name, overrides in (
                ("face", VoiceOverrides()),
                ("voice", VoiceOverrides(reference_voice=reference)),
            ):
                samples, _ = synthesize_voice(voice_models, conditions, overrides, settings)
                similarity = cosine(encoder.embed(samples), truth[utt.id])
                scores[name].setdefault(speaker, []).append(similarity)
        row = {name: round(float(np.mean(s[speaker])), 3) for name, s in scores.items()}
        print(f"{speaker}: {row}", flush=True)
    overall = {
        name: round(float(np.mean([x for v in s.values() for x in v])), 3)
        for name, s in scores.items()
    }
    print(f"all: {overall}")


if __name__ == "__main__":
    main()
