"""The refiner's "runs" masking: each flagged run masked alone, the rest as context."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.nn.refiner import (
    RUN_GROUPS,
    UnitRefiner,
    flagged_runs,
    fuse_runs,
    refine_tokens,
    run_log_probs,
)
from imagintalk_plugin.pipeline.semantic_models import Calibration
from imagintalk_plugin.training.presets import semantic_preset

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


def test_runs_masking_masks_each_flagged_run_whole_in_one_copy_and_changes_only_flags() -> None:
    refiner = _refiner()
    tokens, flagged = _runs_tokens(60, 1)
    lips = _lips(60)
    seen: list[torch.Tensor] = []

    def forward(ids: torch.Tensor, lip: torch.Tensor | None) -> torch.Tensor:
        seen.append(ids.clone())
        return refiner(ids, lip)

    cpu = torch.device("cpu")
    out = refine_tokens(forward, TINY.refiner, cpu, tokens, flagged, lips, 1, 0.5, "runs")
    spans = flagged_runs(tokens, flagged)
    assert len(seen) == 1  # one forward pass for the window
    rows = seen[0].numpy()
    assert len(rows) == RUN_GROUPS < len(spans)
    for index, (a, b) in enumerate(spans):  # copy index % G masks it whole, no other copy does
        masked = rows[:, a:b] == refiner.mask_id
        assert masked[index % RUN_GROUPS].all()
        assert masked.sum() == b - a
    assert (
        rows[:, ~np.isin(np.arange(60), [i for a, b in spans for i in range(a, b)])]
        != refiner.mask_id
    ).all()
    np.testing.assert_array_equal(out[~flagged], tokens[~flagged])
    for index, (a, b) in enumerate(spans):  # argmax of lips + 0.5 x the LM read from its copy
        ids = torch.from_numpy(rows[index % RUN_GROUPS])[None]
        lip = torch.from_numpy(lips)[None]
        with torch.no_grad():
            best = (lip + 0.5 * refiner(ids, lip).log_softmax(-1))[0].argmax(-1).numpy()
        np.testing.assert_array_equal(out[a:b][flagged[a:b]], best[a:b][flagged[a:b]])


def test_runs_masking_refines_long_clips_window_by_window() -> None:
    refiner = _refiner()
    window = TINY.refiner.max_positions
    tokens, flagged = _runs_tokens(window + 30, 4)
    lips = _lips(len(tokens), 2)
    whole = refiner.refine(tokens, flagged, lips, lm_weight=1.0, masking="runs")
    first = refiner.refine(tokens[:window], flagged[:window], lips[:window], 1, 1.0, "runs")
    np.testing.assert_array_equal(whole[:window], first)
    every = run_log_probs(refiner, TINY.refiner, torch.device("cpu"), tokens, lips, flagged)
    np.testing.assert_array_equal(fuse_runs(tokens, flagged, lips, every, 1.0), whole)
    assert (every[flagged] != 0).any(axis=1).all()  # every flagged step was read


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


def test_calibration_scores_runs_masking_as_refining_with_it_does() -> None:
    from imagintalk_plugin.training.loops.aligner_training import Predictions
    from imagintalk_plugin.training.loops.refiner_training import calibrate, refinement_scores

    refiner = _refiner()
    rng = np.random.default_rng(5)
    clips = [_runs_tokens(40 + 7 * i, i) for i in range(4)]
    lips = [_lips(len(t), i).astype(np.float16) for i, (t, _) in enumerate(clips)]
    predictions = Predictions([t for t, _ in clips], [np.ones(len(t)) for t, _ in clips], lips)
    units = [np.where(rng.random(len(t)) < 0.5, t, rng.integers(0, K, len(t))) for t, _ in clips]
    wrong = [rng.random(len(t)) for t, _ in clips]
    best = calibrate(refiner, predictions, wrong, units, passes=1, maskings=("runs",))
    assert best["masking"] == "runs"
    flags = [p >= best["threshold"] for p in wrong]
    direct = refinement_scores(refiner, predictions, flags, units, 1, best["lm_weight"], "runs")
    assert best["unit_acc_after"] == direct["unit_acc_after"]
    assert best["unit_acc_gain_low"] <= best["unit_acc_after"] - best["unit_acc_before"]
