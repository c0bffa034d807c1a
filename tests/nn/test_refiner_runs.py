"""The refiner's "runs" masking: each flagged run masked alone, the rest as context."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import imagintalk_plugin.nn.refiner as refiner_module
from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.nn.presets import semantic_preset
from imagintalk_plugin.nn.refiner import (
    UnitRefiner,
    flagged_runs,
    fuse_runs,
    refine_tokens,
    run_log_probs,
)
from imagintalk_plugin.pipeline.semantic_models import Calibration

TINY = semantic_preset("tiny")
K = TINY.refiner.num_units


def _refiner() -> UnitRefiner:
    torch.manual_seed(0)
    return UnitRefiner(TINY.refiner).eval()


def _lips(steps: int, seed: int = 0) -> np.ndarray:
    return (
        torch.randn(steps, K, generator=torch.Generator().manual_seed(seed)).log_softmax(-1).numpy()
    )


def _runs_tokens(steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Tokens in runs of 1-5 equal units, and about a third of the steps flagged."""
    rng = np.random.default_rng(seed)
    tokens = np.repeat(rng.integers(0, K, steps), rng.integers(1, 6, steps))[:steps]
    return tokens, rng.random(steps) < 0.3


def test_flagged_runs_are_the_runs_holding_a_flag() -> None:
    tokens = np.array([1, 1, 2, 2, 2, 3, 1, 1])
    flagged = np.zeros(8, dtype=bool)
    flagged[[3, 6]] = True
    assert flagged_runs(tokens, flagged) == [(2, 5), (6, 8)]
    assert flagged_runs(tokens, np.zeros(8, dtype=bool)) == []


def test_runs_masking_masks_one_whole_run_per_row_and_changes_only_flagged_steps() -> None:
    refiner = _refiner()
    tokens, flagged = _runs_tokens(60, 1)
    lips = _lips(60)
    seen: list[torch.Tensor] = []

    def forward(ids: torch.Tensor, lip: torch.Tensor | None) -> torch.Tensor:
        seen.append(ids.clone())
        return refiner(ids, lip)

    out = refine_tokens(
        forward, TINY.refiner, torch.device("cpu"), tokens, flagged, lips, 1, 0.5, "runs"
    )
    spans = flagged_runs(tokens, flagged)
    rows = torch.cat(seen)
    assert len(rows) == len(spans)
    for row, (a, b) in zip(rows, spans, strict=True):
        masked = np.flatnonzero(row.numpy() == refiner.mask_id)
        np.testing.assert_array_equal(masked, np.arange(a, b))  # exactly its run, whole
    np.testing.assert_array_equal(out[~flagged], tokens[~flagged])
    for a, b in spans:  # each run: argmax of lips + 0.5 x the LM with only that run masked
        ids = torch.from_numpy(tokens.copy())[None]
        ids[0, a:b] = refiner.mask_id
        lip = torch.from_numpy(lips)[None]
        with torch.no_grad():
            best = (lip + 0.5 * refiner(ids, lip).log_softmax(-1))[0].argmax(-1).numpy()
        np.testing.assert_array_equal(out[a:b][flagged[a:b]], best[a:b][flagged[a:b]])


def test_runs_masking_gives_the_same_tokens_in_any_batch_size(monkeypatch) -> None:
    refiner = _refiner()
    tokens, flagged = _runs_tokens(80, 2)
    lips = _lips(80, 1)
    whole = refiner.refine(tokens, flagged, lips, passes=2, lm_weight=1.0, masking="runs")
    monkeypatch.setattr(refiner_module, "RUN_BATCH", 3)
    split = refiner.refine(tokens, flagged, lips, passes=2, lm_weight=1.0, masking="runs")
    np.testing.assert_array_equal(whole, split)
    assert len(flagged_runs(tokens, flagged)) > 3


def test_every_runs_log_probs_once_give_what_refining_the_flagged_runs_gives() -> None:
    refiner = _refiner()  # calibration computes every run once and reuses it for each setting
    tokens, _ = _runs_tokens(TINY.refiner.max_positions + 30, 4)  # two windows
    lips = _lips(len(tokens), 2)
    every = run_log_probs(refiner, TINY.refiner, torch.device("cpu"), tokens, lips)
    assert (every != 0).any(axis=1).all()  # every step belongs to a run
    for seed, weight in ((0, 0.25), (1, 1.0), (2, 5.0)):
        flagged = np.random.default_rng(seed).random(len(tokens)) < 0.4
        direct = refiner.refine(tokens, flagged, lips, lm_weight=weight, masking="runs")
        np.testing.assert_array_equal(fuse_runs(tokens, flagged, lips, every, weight), direct)


def test_an_unknown_masking_is_refused() -> None:
    tokens, flagged = _runs_tokens(10, 0)
    with pytest.raises(ValueError, match="unknown masking 'spans'"):
        _refiner().refine(tokens, flagged, None, masking="spans")  # type: ignore[arg-type]


def _write_calibration(folder: Path, data: dict[str, object]) -> Path:
    (folder / "refiner").mkdir(parents=True, exist_ok=True)
    (folder / "refiner" / "calibration.json").write_text(json.dumps(data))
    return folder


def test_calibration_reads_its_masking_and_old_files_mask_all(tmp_path: Path) -> None:
    base = {"threshold": 0.4, "lm_weight": 0.25, "model": "refiner_lm"}
    old = Calibration.read(_write_calibration(tmp_path / "old", base))
    assert old.masking == "all"  # written before "runs" existed: what it was calibrated with
    new = Calibration.read(_write_calibration(tmp_path / "new", base | {"masking": "runs"}))
    assert (new.masking, new.threshold, new.model) == ("runs", 0.4, "refiner_lm")
    bad = _write_calibration(tmp_path / "bad", base | {"masking": "spans"})
    with pytest.raises(ModelLoadError, match="unknown masking 'spans'"):
        Calibration.read(bad)
