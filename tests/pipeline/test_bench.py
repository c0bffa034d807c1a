"""`imagintalk bench` end to end on the tiny checkpoint: every figure is there and sane."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from imagintalk_plugin.cli import main
from imagintalk_plugin.evaluation.bench import DURATIONS_S, TIMED_STAGES, looped_video
from imagintalk_plugin.frontend.video_probe import probe_video


def test_looped_video_has_the_asked_length(videos: list[Path], tmp_path: Path) -> None:
    out = looped_video(videos[0], 3.0, tmp_path / "looped.mp4")
    info = probe_video(out)
    assert abs(info.duration_s - 3.0) < 0.05


def test_bench_reports_every_stage_of_both_backends_side_by_side(
    checkpoint: Path, videos: list[Path], tmp_path: Path, capsys
) -> None:
    own = tmp_path / "checkpoint"  # bench exports ONNX into the checkpoint: not the shared one
    shutil.copytree(checkpoint, own, ignore=shutil.ignore_patterns("onnx"))
    figures = tmp_path / "bench.json"
    argv = ["bench", "--checkpoint", str(own), "--video", str(videos[0]), "--repeats", "2"]
    status = main([*argv, "--backends", "torch", "onnx", "--json", str(figures)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "front-end (face + lips, dlib), warm" in out
    assert "whole + front-end" in out
    assert "exported first" in out
    for duration in DURATIONS_S:
        assert f"torch / onnx time, {duration:g} s clip: " in out
    data = json.loads(figures.read_text())
    assert set(data["frontend"]["seconds"]) == {f"{d:g}" for d in DURATIONS_S}
    assert data["frontend"]["load_s"] > 0
    assert [b["backend"] for b in data["backends"]] == ["torch", "onnx"]
    for figures_of in data["backends"]:
        assert "error" not in figures_of, figures_of
        assert figures_of["load_s"] > 0
        assert figures_of["peak_rss_mb"] > 0
        assert figures_of["batch"]["one_by_one_s"] > 0
        assert figures_of["batch"]["batched_s"] > 0
        for duration in DURATIONS_S:
            stages = figures_of["durations"][f"{duration:g}"]
            assert all(stages[name] > 0 for name in TIMED_STAGES)
            assert stages["total"] >= sum(stages[name] for name in TIMED_STAGES)


def test_bench_reports_a_backend_that_cannot_load_and_measures_the_other(
    checkpoint: Path, videos: list[Path], tmp_path: Path, capsys
) -> None:
    own = tmp_path / "checkpoint"
    shutil.copytree(checkpoint, own, ignore=shutil.ignore_patterns("onnx"))
    (own / "onnx").mkdir()
    (own / "onnx" / "onnx.json").write_text("{}")  # present, so not exported: unloadable
    argv = ["bench", "--checkpoint", str(own), "--video", str(videos[0]), "--repeats", "1"]
    status = main([*argv, "--backends", "onnx", "torch"])
    out = capsys.readouterr().out
    assert status == 1, out  # a failed backend fails the command
    assert "onnx: failed: ModelLoadError" in out
    assert "whole + front-end" in out  # torch's figures
