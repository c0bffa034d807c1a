"""Metrics of the semantic branch: unit accuracy and edit distance, detector precision/recall/AUC.

Unit accuracy is per 50 Hz step. The unit edit distance is computed on deduplicated sequences
(runs of one unit collapsed, as in unit-based speech resynthesis), normalised by the reference
length: a unit error rate, the analogue of a WER.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def dedupe(units: np.ndarray) -> np.ndarray:
    """Collapse runs of the same unit: [3, 3, 5, 5, 3] -> [3, 5, 3]."""
    if len(units) == 0:
        return units
    keep = np.ones(len(units), dtype=bool)
    keep[1:] = units[1:] != units[:-1]
    return units[keep]


def edit_distance(hyp: Sequence[int] | np.ndarray, ref: Sequence[int] | np.ndarray) -> int:
    """Levenshtein distance between two integer sequences."""
    hyp = list(hyp)
    ref = list(ref)
    previous = list(range(len(ref) + 1))
    for i, h in enumerate(hyp, 1):
        current = [i] + [0] * len(ref)
        for j, r in enumerate(ref, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (h != r))
        previous = current
    return previous[-1]


def unit_scores(preds: Sequence[np.ndarray], refs: Sequence[np.ndarray]) -> dict[str, float]:
    """Step accuracy and deduplicated unit error rate over utterances (lengths matched first)."""
    correct = steps = errors = ref_len = 0
    for pred, ref in zip(preds, refs, strict=True):
        n = min(len(pred), len(ref))
        correct += int((pred[:n] == ref[:n]).sum())
        steps += n
        ref_d = dedupe(ref[:n])
        errors += edit_distance(dedupe(pred[:n]), ref_d)
        ref_len += len(ref_d)
    return {
        "unit_acc": correct / max(1, steps),
        "unit_edit": errors / max(1, ref_len),
    }


def majority_baseline(
    train_refs: Sequence[np.ndarray], refs: Sequence[np.ndarray]
) -> dict[str, float]:
    """Scores of always answering the most frequent training unit (the trivial baseline)."""
    counts = np.bincount(np.concatenate(list(train_refs)))
    top = int(counts.argmax())
    return unit_scores([np.full(len(r), top, dtype=np.int64) for r in refs], refs)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied ranks); NaN with one class only."""
    labels = labels.astype(bool)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def detector_scores(probs: np.ndarray, wrong: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall and AUC of 'wrong' flags at `threshold`, plus the base error rate."""
    wrong = wrong.astype(bool)
    flagged = probs >= threshold
    hits = int((flagged & wrong).sum())
    return {
        "precision": hits / max(1, int(flagged.sum())),
        "recall": hits / max(1, int(wrong.sum())),
        "auc": roc_auc(probs, wrong),
        "error_rate": float(wrong.mean()) if len(wrong) else float("nan"),
        "flagged_rate": float(flagged.mean()) if len(flagged) else float("nan"),
    }


def paired_gain_interval(
    gains: np.ndarray, counts: np.ndarray, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% interval of a pooled accuracy gain, by a paired bootstrap over clips.

    `gains[i]` is clip i's correct steps after minus before, `counts[i]` its steps; clips are
    resampled with replacement (seeded), so the interval says whether a gain would survive
    another draw of clips from the same speakers.
    """
    gains, counts = np.asarray(gains, np.float64), np.asarray(counts, np.float64)
    if len(gains) == 0 or counts.sum() == 0:
        return float("nan"), float("nan")
    picks = np.random.default_rng(seed).integers(0, len(gains), (resamples, len(gains)))
    pooled = gains[picks].sum(1) / np.maximum(counts[picks].sum(1), 1.0)
    low, high = np.percentile(pooled, [2.5, 97.5])
    return float(low), float(high)
