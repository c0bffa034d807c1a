"""Aligner-like noise for the refiner's language-model pretraining.

At inference the refiner reads the aligner's tokens around each masked span, and on a voice the
aligner never saw about half of them are wrong. A language model pretrained on clean units
trusts that context. Here the clean units are corrupted the way the aligner corrupts them:
whole runs of one unit are replaced at once (the aligner's errors come in runs, not single
steps), each by a unit drawn from the aligner's own confusions, counted on its out-of-fold
predictions (made by aligners that never saw the speaker). The noise is sampled from audio-only
units, so it can be drawn afresh every step: the model cannot learn it by heart, unlike the few
hundred clips of real lip posteriors.
"""

from __future__ import annotations

import numpy as np

from imagintalk_plugin.training.loops.corpus import IGNORE, unit_targets

NOISE_RATES = (0.1, 0.6)  # share of runs replaced per window: training speakers .. new voices


def error_confusion(
    tokens: list[np.ndarray], units: list[np.ndarray], num_units: int
) -> np.ndarray:
    """(K, K) float64: row u is how the aligner's wrong tokens spread when the true unit is u.

    `tokens` are 50 Hz predictions and `units` the true units of the same clips. A unit the
    aligner never got wrong spreads uniformly over the other units.
    """
    counts = np.zeros((num_units, num_units), dtype=np.float64)
    for predicted, true in zip(tokens, units, strict=True):
        target = unit_targets(true, len(predicted) // 2)[: len(predicted)]
        wrong = (target != IGNORE) & (predicted[: len(target)] != target)
        np.add.at(counts, (target[wrong], predicted[: len(target)][wrong]), 1.0)
    np.fill_diagonal(counts, 0.0)
    empty = counts.sum(1) == 0
    counts[empty] = 1.0
    counts[empty, np.flatnonzero(empty)] = 0.0  # never "confuse" a unit with itself
    return counts / counts.sum(1, keepdims=True)


def corrupt_runs(
    units: np.ndarray, confusion: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """`units` with a share `rate` of its runs (repeats of one unit) replaced by confusions."""
    if len(units) == 0:
        return units.copy()
    starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1]])
    stops = np.r_[starts[1:], len(units)]
    noisy = units.copy()
    for start, stop in zip(starts, stops, strict=True):
        if rng.random() < rate:
            row = confusion[units[start]]
            noisy[start:stop] = rng.choice(len(row), p=row)
    return noisy


def noise_rate(rng: np.random.Generator) -> float:
    """A window's corruption rate, uniform over `NOISE_RATES`."""
    return float(rng.uniform(*NOISE_RATES))
