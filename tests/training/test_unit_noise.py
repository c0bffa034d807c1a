"""Aligner-like noise for the refiner's LM pretraining: confusions counted from predictions,
whole runs replaced, and an LM trained on it reads a corrupted context."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.training.loops.distributed import DistributedContext
from imagintalk_plugin.training.loops.loop import run_stage
from imagintalk_plugin.training.loops.refiner_training import pretrain_stage
from imagintalk_plugin.training.loops.unit_noise import corrupt_runs, error_confusion
from imagintalk_plugin.training.presets import semantic_preset

PRESET = semantic_preset("tiny")


def test_confusion_counts_only_wrong_tokens_per_true_unit() -> None:
    units = np.array([0, 0, 1, 1, 2, 2], dtype=np.int64)  # 25 Hz frames: 3, 50 Hz steps: 6
    tokens = np.array([0, 1, 1, 1, 2, 0], dtype=np.int64)  # 0 -> 1 once, 2 -> 0 once
    confusion = error_confusion([tokens], [units], 4)
    assert np.allclose(confusion.sum(1), 1.0)
    assert np.all(np.diag(confusion) == 0.0)
    assert confusion[0, 1] == 1.0
    assert confusion[2, 0] == 1.0
    # unit 1 was never wrong and unit 3 never seen: spread over the other units
    assert np.allclose(confusion[1], [1 / 3, 0, 1 / 3, 1 / 3])
    assert np.allclose(confusion[3], [1 / 3, 1 / 3, 1 / 3, 0])


def test_corruption_replaces_whole_runs_at_the_given_rate() -> None:
    rng = np.random.default_rng(0)
    k = 6
    confusion = error_confusion([np.zeros(0, np.int64)], [np.zeros(0, np.int64)], k)
    runs = rng.integers(0, k, 400)
    runs = runs[np.r_[True, runs[1:] != runs[:-1]]]  # neighbouring runs differ
    units = np.repeat(runs, 4)
    assert np.array_equal(corrupt_runs(units, confusion, 0.0, rng), units)
    noisy = corrupt_runs(units, confusion, 1.0, rng)
    assert np.all(noisy != units)  # every run replaced, never by its own unit
    assert np.all(noisy.reshape(-1, 4) == noisy.reshape(-1, 4)[:, :1])  # runs stay whole
    half = corrupt_runs(units, confusion, 0.5, rng)
    assert 0.4 < (half != units).mean() < 0.6


def test_noisy_pretraining_learns_to_read_a_corrupted_context(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    k = PRESET.refiner.num_units
    seqs = [np.tile(np.repeat(rng.choice(k, 2, replace=False), 4), 8) for _ in range(16)]
    confusion = error_confusion([np.zeros(0, np.int64)], [np.zeros(0, np.int64)], k)
    settings = replace(PRESET.refiner_pretrain, steps=200, eval_every=200, save_every=200, lr=5e-3)
    stage = pretrain_stage(PRESET.refiner, settings, seqs, seqs[:4], {}, confusion)
    last = drive(run_stage(stage, tmp_path, DistributedContext()))["history"][-1]
    # a masked run is one of the two units the sequence alternates: far above chance even
    # when a share of the visible runs has been replaced by random units
    assert last["valid_masked_unit_acc_noisy"] > 3.0 / k
    assert last["valid_masked_unit_acc"] >= last["valid_masked_unit_acc_noisy"] - 0.05
