"""Is the lip reader limited by its training (variance) or by what the lips show?

Measures how far aligners trained differently on the same units (other seeds,
augmentations or auxiliary losses) agree on a manifest's test clips. If each one's errors were
its own, averaging their posteriors would score clearly better than the best of them; if they
all fail on the same steps, the ensemble gains little and the limit is the mouth's information
(for that data and architecture), not any one training run.

Inputs: two or more run folders, each with units/ and aligner/ (all on the same codebook: the
first one's units are the targets); --data, the manifest; --clips, how many test clips.

Output on stdout, one row per aligner and one per ensemble of the first k (k = 2 .. N): unit
accuracy and unit edit distance against the true audio's units (50 Hz steps), as `train
aligner` reports them, and the share of steps on which all N aligners pick the same unit. The
figures of the last run are in research/README.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.pipeline.semantic_models import load_aligner, load_units
from imagintalk_plugin.training.loops.aligner_training import predict_clips
from imagintalk_plugin.training.loops.metrics import unit_scores
from imagintalk_plugin.training.training_data import load_semantic_corpus


def posteriors(runs: list[Path], manifest: Path, clips: int) -> tuple[list, list[np.ndarray]]:
    """Each run's (T, K) unit posteriors of the first `clips` test clips, and the true units
    (the first run's codebook; every aligner must be on it)."""
    units = load_units(runs[0])
    test = drive(load_semantic_corpus(manifest)).corpus.split("test")[:clips]
    if not test:
        raise SystemExit(f"{manifest} has no test clips")
    refs = [units.unit_ids(u.audio).astype(np.int64) for u in test]
    read = []
    for run in runs:
        aligner = load_aligner(run, units, "cpu")  # refuses another codebook
        predicted = predict_clips(aligner, [u.lip for u in test])
        read.append([np.exp(lp.astype(np.float32)) for lp in predicted.log_probs])
    return read, refs


def score(probs: list[np.ndarray], refs: list[np.ndarray]) -> tuple[float, float]:
    """(unit accuracy, unit edit distance) of each step's most probable unit."""
    tokens = [p.argmax(-1) for p in probs]
    scores = unit_scores(tokens, [r[: len(t)] for r, t in zip(refs, tokens, strict=True)])
    return float(scores["unit_acc"]), float(scores["unit_edit"])


def agreement(read: list[list[np.ndarray]]) -> float:
    """Share of steps on which every aligner's best unit is the same."""
    same = total = 0
    for clip in zip(*read, strict=True):
        best = np.stack([p.argmax(-1) for p in clip])  # (N, T)
        same += int((best == best[0]).all(0).sum())
        total += best.shape[1]
    return same / max(total, 1)


def table(names: list[str], read: list[list[np.ndarray]], refs: list[np.ndarray]) -> list[str]:
    """One row per aligner, then one per ensemble of the first k."""
    rows = [f"{'aligner':<40}{'unit acc':>10}{'edit':>8}"]
    for name, probs in zip(names, read, strict=True):
        acc, edit = score(probs, refs)
        rows.append(f"{name:<40}{acc:>10.4f}{edit:>8.4f}")
    for k in range(2, len(read) + 1):
        mean = [np.mean(clip, axis=0) for clip in zip(*read[:k], strict=True)]
        acc, edit = score(mean, refs)
        rows.append(f"{'ensemble of ' + str(k):<40}{acc:>10.4f}{edit:>8.4f}")
    rows.append(f"all {len(read)} pick the same unit on {agreement(read):.1%} of the steps")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", type=Path, nargs="+", help="two or more run folders")
    parser.add_argument("--data", type=Path, required=True, help="manifest.jsonl")
    parser.add_argument("--clips", type=int, default=100, help="test clips (default 100)")
    args = parser.parse_args()
    if len(args.runs) < 2:
        parser.error("give at least two run folders")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    read, refs = posteriors(args.runs, args.data, args.clips)
    print("\n".join(table([str(r) for r in args.runs], read, refs)))


if __name__ == "__main__":
    main()
