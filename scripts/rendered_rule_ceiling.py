"""How much of the voice one clip's face could tell if voices followed the rendered face.

Usage: .venv/bin/python scripts/rendered_rule_ceiling.py --data MANIFEST [--per-speaker N]

`scripts/face_voice_ceiling.py` shows the corpus's rule (`synth.voices.voice_from_face`, on the
still face) is told by one clip's front-end descriptor only partly: the rendered clips'
descriptors are offset from the still face's and scatter around their own mean. This script
measures a candidate rule for a future corpus, with no model involved:
- whiten the descriptor by the within-speaker scatter of the training speakers' clips (so a
  direction that rendering moves a lot counts little), then take the same kind of fixed random
  projections as `voice_from_face`, standardised over the training speakers;
- a speaker's voice is that rule on the mean of its clips' descriptors (the face as rendered).
For the first N clips of each test speaker, espeak-ng says the clip's words in that voice
("truth") and in the rule's voice for the clip's own descriptor ("clip face"), each scored like
the judges against the mean of the speaker's other truth clips. It also counts, over 20
projection seeds and every test clip, how often a clip's descriptor gives its speaker's variant.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.evaluation.speaker import SpeakerEncoder, cosine
from imagintalk_plugin.pipeline.training_data import load_semantic_corpus
from imagintalk_plugin.synth.espeak import EspeakVoice
from imagintalk_plugin.synth.voice_bank import respoken
from imagintalk_plugin.synth.voices import VARIANTS

PROJECTION_SEED = 20261121  # the corpus rule's seed
RIDGE = 0.1  # added to the scatter's eigenvalues, as a share of their mean


class RenderedRule:
    """Voice from a descriptor: whitened by rendering scatter, projected, standardised."""

    def __init__(self, by_speaker: dict[str, np.ndarray], seed: int = PROJECTION_SEED) -> None:
        centred = np.concatenate([x - x.mean(0) for x in by_speaker.values()])
        scatter = centred.T @ centred / len(centred)
        values, vectors = np.linalg.eigh(scatter + RIDGE * np.trace(scatter) / 128 * np.eye(128))
        whiten = vectors @ np.diag(values**-0.5) @ vectors.T
        directions = np.random.default_rng(seed).standard_normal((3 + len(VARIANTS), 128))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        self.projection = directions @ whiten
        z = np.array([x.mean(0) for x in by_speaker.values()]) @ self.projection.T
        self.mean, self.spread = z.mean(0), z.std(0)

    def variant(self, embedding: np.ndarray) -> int:
        """Index in `VARIANTS` of the embedding's voice variant."""
        return int(np.argmax(self._z(embedding)[3:]))

    def voice(self, embedding: np.ndarray) -> EspeakVoice:
        """The espeak-ng voice, squashed into the same ranges as `voice_from_face`."""
        z = self._z(embedding)
        return EspeakVoice(
            variant=VARIANTS[int(np.argmax(z[3:]))],
            pitch=round(float(50 + 24 * np.tanh(z[0] / 1.5))),
            pitch_range=round(float(50 + 16 * np.tanh(z[1] / 1.5))),
            speed=round(float(165 + 22 * np.tanh(z[2] / 1.5))),
        )

    def _z(self, embedding: np.ndarray) -> np.ndarray:
        return (self.projection @ np.asarray(embedding, np.float64) - self.mean) / self.spread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the whole corpus's manifest")
    parser.add_argument("--per-speaker", type=int, default=12, metavar="N")
    args = parser.parse_args()
    entries = map(json.loads, args.data.read_text(encoding="utf-8").splitlines())
    intensity = {r["id"]: float(r.get("intensity") or 1.0) for r in entries}
    corpus = drive(load_semantic_corpus(args.data)).corpus
    faces: dict[str, dict[str, list[np.ndarray]]] = {"train": defaultdict(list)}
    faces["test"] = defaultdict(list)
    tests = defaultdict(list)
    for split in ("train", "test"):
        for utt in corpus.split(split):
            assert utt.face_embedding is not None
            faces[split][utt.speaker].append(utt.face_embedding.astype(np.float64))
            if split == "test":
                tests[utt.speaker].append(utt)
    train = {s: np.array(x) for s, x in faces["train"].items()}
    test = {s: np.array(x) for s, x in faces["test"].items()}
    if not train or not test:
        raise SystemExit("error: the manifest needs training and test clips")
    agree = [
        np.mean([rule.variant(x) == rule.variant(xs.mean(0)) for xs in test.values() for x in xs])
        for rule in (RenderedRule(train, seed) for seed in range(20))
    ]
    print(
        f"clip gives its speaker's variant, 20 projection seeds: mean {np.mean(agree):.3f}, "
        f"min {np.min(agree):.3f}, max {np.max(agree):.3f}"
    )
    rule = RenderedRule(train)
    encoder = SpeakerEncoder()
    rows = []
    for speaker, utts in sorted(tests.items()):
        own = rule.voice(test[speaker].mean(0))
        said = utts[: args.per_speaker]

        def say(utt, voice: EspeakVoice) -> np.ndarray:  # noqa: ANN001 - a corpus utterance
            return respoken(
                utt.words,
                voice,
                speed=utt.speed,
                emotion=utt.emotion,
                seed=0,
                length=len(utt.audio),
                spell_letters=utt.spell_letters,
                intensity=intensity[utt.id],
            )

        truth = [encoder.embed(say(u, own)) for u in said]
        scores: dict[str, list[float]] = defaultdict(list)
        for i, utt in enumerate(said):
            reference = np.mean([t for j, t in enumerate(truth) if j != i], axis=0)
            clip_voice = rule.voice(utt.face_embedding)
            scores["truth"].append(cosine(truth[i], reference))
            scores["clip face"].append(cosine(encoder.embed(say(utt, clip_voice)), reference))
            scores["variant right"].append(float(clip_voice.variant == own.variant))
            scores["|pitch error|"].append(abs(clip_voice.pitch - own.pitch))
        row = {name: float(np.mean(v)) for name, v in scores.items()}
        rows.append(row)
        print(f"{speaker} ({own.variant}): {_fmt(row)}", flush=True)
    print(f"mean: {_fmt({k: float(np.mean([r[k] for r in rows])) for k in rows[0]})}")


def _fmt(row: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in row.items())


if __name__ == "__main__":
    main()
