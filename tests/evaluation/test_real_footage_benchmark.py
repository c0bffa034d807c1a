"""`benchmarks/real_footage.py`: its figures and table, and a smoke run on two real GRID clips."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from real_manifest_fixtures import grid_s1_manifest
from shared_data import REPO

from imagintalk_plugin.core.paths import default_checkpoint
from imagintalk_plugin.evaluation.report import EvalReport


def _benchmark() -> ModuleType:
    path = REPO / "benchmarks" / "real_footage.py"
    spec = importlib.util.spec_from_file_location("real_footage", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["real_footage"] = module
    spec.loader.exec_module(module)
    return module


def test_figures_and_the_side_by_side_table() -> None:
    bench = _benchmark()
    rows = [
        {"id": "a", "stoi": 0.4, "speaker_sim": 0.6, "lag_ms": 30.0},
        {"id": "b", "stoi": 0.2, "speaker_sim": float("nan"), "lag_ms": -10.0},
    ]
    summary = {
        "wer_corpus": 0.9,
        "cer_corpus": 0.7,
        "wer_corpus_grid": 0.8,
        "cer_corpus_grid": 0.6,
        "lag_median_ms": 10.0,
        "lag_abs_median_ms": 20.0,
        "lag_within_40ms": 1.0,
        "lag_mean_corr": 0.45,
        "lag_at_limit": 0,
        "sync_pooled_lag_frames": float("nan"),
    }
    generated = bench.figures(EvalReport("m", "g", [], rows, summary=summary))
    assert generated["clips"] == 2
    assert generated["wer"] == 0.8  # the GRID lines' WER
    assert generated["stoi"] == pytest.approx(0.3)
    assert generated["speaker_sim"] == pytest.approx(0.6)
    assert generated["sync_lag_frames"] is None
    assert generated["estoi"] is None
    ceiling = dict.fromkeys(generated, 1.0)
    table = bench.format_figures(generated, ceiling)
    lines = table.splitlines()
    assert lines[0].split() == ["measure", "generated", "ceiling"]
    assert len(lines) == len(bench.MEASURES) + 2
    assert len({len(line) for line in lines}) == 1  # aligned
    wer = next(line for line in lines if line.startswith("WER"))
    assert wer.split()[-2:] == ["80.0%", "100.0%"]
    estoi = next(line for line in lines if line.startswith("ESTOI"))
    assert estoi.split()[-2:] == ["-", "1.000"]
    lag = next(line for line in lines if line.startswith("envelope lag, median"))
    assert lag.split()[-2:] == ["+10", "+1"]
    free = bench.figures(EvalReport("m", "g", [], rows, summary={"wer_corpus": 0.9}))
    assert free["wer"] == 0.9


def test_arguments_and_default_output_folder(tmp_path: Path) -> None:
    bench = _benchmark()
    args = bench.parse_args(["--manifest", str(tmp_path), "--limit", "3"])
    assert args.manifest == tmp_path / "manifest.jsonl"
    assert args.model == default_checkpoint()
    assert args.split == "test"
    assert args.out == REPO / "runs" / "real_footage" / f"demo-{tmp_path.name}-test"


@pytest.mark.realdata
@pytest.mark.slow
def test_smoke_run_on_two_real_clips(realdata: Path, tmp_path: Path) -> None:
    """The shipped model voices two GRID s1 clips from their mp4s (audio track present)."""
    grid_s1 = realdata / "grid-s1"
    if not (grid_s1 / "video" / "bbaf2n.mp4").is_file():
        pytest.skip(f"{grid_s1} not in the shared real data")
    if not (default_checkpoint() / "dit").is_dir():
        pytest.skip("the shipped demo model is not in this checkout")
    manifest = grid_s1_manifest(tmp_path / "corpus", grid_s1, ["bbaf2n", "bbaf3s"])
    out = tmp_path / "bench"
    bench = _benchmark()
    assert bench.main(["--manifest", str(manifest), "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "real_footage.json").read_text())
    assert result["generated_now"] == 2
    assert sorted(p.name for p in (out / "generated").iterdir()) == ["bbaf2n.wav", "bbaf3s.wav"]
    generated, ceiling = result["figures"]["generated"], result["figures"]["ceiling"]
    assert generated["clips"] == ceiling["clips"] == 2
    assert ceiling["lag_abs_median_ms"] == pytest.approx(0.0, abs=1e-6)
    assert ceiling["stoi"] == pytest.approx(1.0)
    for key in ("wer", "stoi", "estoi", "speaker_sim", "lag_mean_corr", "sync_corr"):
        assert generated[key] is not None, key
    assert (out / "generated_report.json").is_file()
    assert (out / "ceiling_report.json").is_file()
