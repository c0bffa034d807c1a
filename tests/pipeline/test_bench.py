"""`imagintalk bench` end to end on the tiny checkpoint: every figure is there and sane."""

from __future__ import annotations

import json
from pathlib import Path

from imagintalk_plugin.cli import main
from imagintalk_plugin.frontend.video_probe import probe_video
from imagintalk_plugin.pipeline.bench import DURATIONS_S, TIMED_STAGES, looped_video


def test_looped_video_has_the_asked_length(videos: list[Path], tmp_path: Path) -> None:
    out = looped_video(videos[0], 3.0, tmp_path / "looped.mp4")
    info = probe_video(out)
    assert abs(info.duration_s - 3.0) < 0.05


def test_bench_reports_every_stage(
    checkpoint: Path, videos: list[Path], tmp_path: Path, capsys
) -> None:
    figures = tmp_path / "bench.json"
    argv = ["bench", "--checkpoint", str(checkpoint), "--video", str(videos[0])]
    status = main([*argv, "--backends", "torch", "--repeats", "1", "--json", str(figures)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "front-end (face + lips, dlib), warm" in out
    assert "whole + front-end" in out
    data = json.loads(figures.read_text())
    assert set(data["frontend"]["seconds"]) == {f"{d:g}" for d in DURATIONS_S}
    assert data["frontend"]["load_s"] > 0
    (torch_figures,) = data["backends"]
    assert torch_figures["backend"] == "torch"
    for duration in DURATIONS_S:
        stages = torch_figures["durations"][f"{duration:g}"]
        assert all(stages[name] > 0 for name in TIMED_STAGES)
        assert stages["total"] >= sum(stages[name] for name in TIMED_STAGES)
