"""Fit the "rendered" face -> voice rule on a corpus's clips (`synth.rendered_voice_rule`).

A release tool: it writes the rule file the package ships, which `imagintalk synth --voice-rule
rendered` reads to give each speaker the voice of its face as rendered.

Reads every training clip's face descriptor as the front-end gives it (cached), fits the rule
on the training speakers only (at least two, with at least two clips each), and writes it
(default: the shipped `imagintalk_plugin/synth/rendered_voice_rule.json`, refused if it exists
without --force), with where it was fitted. It prints, for the corpus's training and test
speakers, how often one clip's descriptor gives the voice variant of the speaker's mean
descriptor, under this rule and under the "still" rule, and how many variants the speakers'
mean descriptors use.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.synth.rendered_voice_rule import RULE_FILE, ProjectionRule
from imagintalk_plugin.synth.voices import PROJECTION_SEED, VARIANTS, face_projections
from imagintalk_plugin.training.training_data import load_semantic_corpus


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="the corpus's manifest.jsonl")
    parser.add_argument("--out", type=Path, default=RULE_FILE, help="default: the shipped rule")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    args = parser.parse_args()
    if args.out.exists() and not args.force:
        raise SystemExit(f"error: {args.out} exists (use --force to replace it)")
    corpus = drive(load_semantic_corpus(args.data)).corpus
    clips: dict[str, dict[str, list[np.ndarray]]] = {"train": defaultdict(list)}
    clips["test"] = defaultdict(list)
    for split in clips:
        for utt in corpus.split(split):
            assert utt.face_embedding is not None
            clips[split][utt.speaker].append(utt.face_embedding.astype(np.float64))
    train = {s: np.array(x) for s, x in clips["train"].items()}
    rule = ProjectionRule.fit(train, 3 + len(VARIANTS), PROJECTION_SEED)
    provenance = {
        "fitted_on": str(args.data),
        "training_speakers": len(train),
        "training_clips": int(sum(len(x) for x in train.values())),
        "seed": PROJECTION_SEED,
    }
    rule.save(args.out, provenance)
    print(f"wrote {args.out} ({len(train)} speakers)")
    for name, project in (("rendered", rule.project), ("still", face_projections)):
        for split, groups in clips.items():
            right = [
                int(np.argmax(project(x)[3:])) == int(np.argmax(project(np.mean(xs, 0))[3:]))
                for xs in groups.values()
                for x in xs
            ]
            used = {int(np.argmax(project(np.mean(xs, 0))[3:])) for xs in groups.values()}
            print(
                f"{name} rule, {split} speakers: one clip gives its speaker's variant "
                f"{np.mean(right):.3f}; variants used {len(used)}"
            )


if __name__ == "__main__":
    main()
