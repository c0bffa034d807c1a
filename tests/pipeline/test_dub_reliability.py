"""`dub` and `speak` as a reliability engineer tries them: a rerun resumes and an edited model
makes fresh takes beside the old ones; a second run on the same output, an unwritable folder,
a broken checkpoint, a missing device or ONNX export fail once, up front, in one line, leaving
nothing behind; a cancel lands inside the sampler's steps and keeps the takes written."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from test_dubbing import _dub, _timeline, _track
from video_fixtures import write_video

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.errors import CancelledError
from imagintalk_plugin.core.files import exclusive_lock
from imagintalk_plugin.core.progress import CancelToken, Progress, drive
from imagintalk_plugin.pipeline import dub_models
from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages
from imagintalk_plugin.pipeline.dub_output import DubOutput
from imagintalk_plugin.pipeline.dubbing import DubRequest, dub_timeline
from imagintalk_plugin.pipeline.speech import SpeechSettings, speak_tracks
from imagintalk_plugin.runtime.stages import Stages


def _takes(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.wav"))


def _no_model_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that must come before the model loads fails the test if the model loads."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the bad input was refused")

    monkeypatch.setattr(dub_models, "load_dub_models", refuse)


def test_an_edited_model_makes_fresh_takes_beside_the_old_ones(
    videos: list[Path], checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    timeline = _timeline(videos, tmp_path)
    output = tmp_path / "cut.otio"
    args = ("--clips", "V1-001")
    assert _dub(timeline, output, checkpoint, *args) == 0
    first = _takes(tmp_path / "cut_dialogue")
    assert first == ["V1-001_line_1_take1.wav"]
    edited = tmp_path / "edited_model"
    shutil.copytree(checkpoint, edited)
    calibration = edited / "refiner" / "calibration.json"
    values = json.loads(calibration.read_text())
    values["threshold"] = min(0.99, values["threshold"] + 0.01)  # one config value
    calibration.write_text(json.dumps(values))
    capsys.readouterr()
    assert _dub(timeline, output, edited, *args) == 0
    assert "reused" not in capsys.readouterr().out
    assert _takes(tmp_path / "cut_dialogue") == [*first, "V1-001_line_1_take1_v2.wav"]
    records = [
        json.loads((tmp_path / "cut_dialogue" / n).with_suffix(".take.json").read_text())
        for n in _takes(tmp_path / "cut_dialogue")
    ]
    assert records[0]["model_digest"] != records[1]["model_digest"]
    assert _dub(timeline, output, checkpoint, *args) == 0  # the first model: its take again
    assert "1 reused" in capsys.readouterr().out


def test_an_output_this_project_did_not_write_is_kept(
    videos: list[Path], checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    timeline = _timeline(videos, tmp_path)
    output = tmp_path / "cut.otio"
    output.write_text("the editor's own file")
    assert _dub(timeline, output, checkpoint, "--clips", "V1-001") == 2
    assert "already exists" in capsys.readouterr().err
    assert output.read_text() == "the editor's own file"
    assert not (tmp_path / "cut_dialogue").exists()


def test_a_second_run_on_the_same_output_is_refused_at_once(
    videos: list[Path], checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    timeline = _timeline(videos, tmp_path)
    output = tmp_path / "cut.otio"
    with exclusive_lock(DubOutput(output, tmp_path / "cut_dialogue").lock):
        assert _dub(timeline, output, checkpoint) == 2
    err = capsys.readouterr().err.strip()
    assert "another imagintalk run" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "cut_dialogue").exists()


_NO_PROC = not Path("/proc/self").is_dir()


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("a_file/cut.otio", "is not a folder"),
        ("missing/cut.otio", "does not exist"),
        # /proc takes no new files, even from root (for whom permission bits say nothing)
        pytest.param(
            "/proc/cut.otio",
            "cannot write",
            marks=pytest.mark.skipif(_NO_PROC, reason="needs Linux's /proc"),
        ),
    ],
)
def test_dub_into_a_folder_that_cannot_take_files_fails_before_the_model_loads(
    videos: list[Path],
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    expected: str,
) -> None:
    timeline = _timeline(videos, tmp_path)
    (tmp_path / "a_file").write_text("")
    _no_model_load(monkeypatch)
    assert _dub(timeline, tmp_path / where, checkpoint) == 2  # an absolute `where` stays so
    err = capsys.readouterr().err.strip()
    assert expected in err
    assert len(err.splitlines()) == 1


def test_speak_to_a_missing_folder_or_past_the_clip_fails_before_any_work(
    videos: list[Path],
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_model_load(monkeypatch)
    base = ["speak", str(videos[0]), "--checkpoint", str(checkpoint), "--quiet"]
    assert main([*base, "-o", str(tmp_path / "nowhere" / "line.wav")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*base, "-o", str(tmp_path / "line.wav"), "--start", "999"]) == 2
    assert "past the end" in capsys.readouterr().err
    assert main([*base, "-o", str(tmp_path / "line.wav"), "--sample-rate", "12345"]) == 2
    assert "--sample-rate" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_speak_names_the_input_when_it_has_no_face(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    blank = write_video(tmp_path / "empty_room.mp4", [np.full((96, 96, 3), 90, np.uint8)] * 20)
    out = tmp_path / "line.wav"
    status = main(["speak", str(blank), "-o", str(out), "--checkpoint", str(checkpoint), "--quiet"])
    err = capsys.readouterr().err
    assert status == 4
    assert "empty_room.mp4" in err
    assert "line" not in err
    assert not out.exists()


def _broken_copy(checkpoint: Path, tmp_path: Path) -> Path:
    broken = tmp_path / "broken_model"
    shutil.copytree(checkpoint, broken)
    (broken / "dit" / "model.safetensors").write_bytes(b"not a safetensors file")
    return broken


@pytest.mark.parametrize(
    ("case", "status", "expected"),
    [
        ("broken checkpoint", 3, "cannot load model"),
        ("onnx without export", 2, "no ONNX export"),
        ("cuda without a GPU", 2, "no CUDA device"),
    ],
)
def test_a_model_that_cannot_run_fails_once_before_any_clip(
    videos: list[Path],
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    case: str,
    status: int,
    expected: str,
) -> None:
    if case == "cuda without a GPU" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    model, extra = checkpoint, ()
    if case == "broken checkpoint":
        model = _broken_copy(checkpoint, tmp_path)
    elif case == "onnx without export":
        model = tmp_path / "no_export"
        shutil.copytree(checkpoint, model, ignore=shutil.ignore_patterns("onnx"))
        extra = ("--backend", "onnx")
    else:
        extra = ("--device", "cuda")
    output = tmp_path / "cut.otio"
    assert _dub(_timeline(videos, tmp_path), output, model, *extra) == status
    captured = capsys.readouterr()
    assert expected in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "V1-00" not in captured.out  # not once per clip
    assert not (tmp_path / "cut_dialogue").exists()
    assert not output.exists()


class _CountingStages:
    """The stages, with every Style-DiT call counted and a cancel after the first one."""

    def __init__(self, stages: Stages, cancel: CancelToken) -> None:
        self.stages, self.cancel, self.calls = stages, cancel, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.stages, name)

    def voice_path(self) -> object:
        path = self.stages.voice_path()
        dit = path.dit

        def counted(*args: object) -> torch.Tensor:
            self.calls += 1
            self.cancel.cancel()  # Ctrl-C in the middle of the DiT's steps
            return dit(*args)

        return replace(path, dit=counted)


def test_a_cancel_lands_inside_the_samplers_steps(
    videos: list[Path], checkpoint: Path, tmp_path: Path
) -> None:
    models = load_dub_models(checkpoint, "cpu")
    cancel = CancelToken()
    stages = _CountingStages(make_stages(models), cancel)
    request = DubRequest(
        _timeline(videos, tmp_path),
        tmp_path / "cut.otio",
        clips=("V1-001", "V1-002"),
        batch_size=8,
        settings=SpeechSettings(),
    )
    started = time.monotonic()
    with pytest.raises(CancelledError):
        drive(dub_timeline(request, lambda: (models, stages)), None, cancel)
    assert stages.calls == 1  # of 16 steps x 2 guidance branches
    assert time.monotonic() - started < 60
    assert not (tmp_path / "cut_dialogue").exists()  # nothing was finished, nothing is left
    assert not (tmp_path / ".cut.otio.imagintalk-lock").exists()


def test_each_clip_is_delivered_as_soon_as_its_windows_are_made(checkpoint: Path) -> None:
    """A short clip's take is handed over before a long clip's later windows are made, so a
    cancel then keeps it."""
    models = load_dub_models(checkpoint, "cpu")
    settings = SpeechSettings(window_s=2.0, overlap_s=0.5)
    requests = [(_track(50), settings), (_track(150), settings)]  # 1 window, then 4 alike
    events: list[str] = []
    cancel = CancelToken()

    def deliver(index: int, speech: object) -> None:
        events.append(f"delivered {index}")
        cancel.cancel()

    def seen(step: Progress) -> None:
        if step.stage == "error detector":  # yielded once a batch's aligner has run
            events.append("batch")

    job = speak_tracks(models, make_stages(models), requests, 2, deliver)
    with pytest.raises(CancelledError):
        drive(job, seen, cancel)
    assert events == ["batch", "delivered 0"]  # the long clip's later windows were never made


def test_dub_relinks_offline_clips_from_a_media_folder(
    videos: list[Path], checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    timeline = _timeline(videos, tmp_path)  # V1-003's media, missing.mp4, is not there
    media = tmp_path / "media_from_another_machine"
    media.mkdir()
    shutil.copy(videos[1], media / "MISSING.mp4")
    output = tmp_path / "cut.otio"
    assert _dub(timeline, output, checkpoint, "--clips", "V1-003", "--media-dir", str(media)) == 0
    report = capsys.readouterr().out
    assert "relinked 1" in report
    assert "V1-003   done" in report
    assert main(["dub", str(timeline), "-o", str(output), "--media-dir", str(tmp_path / "no")]) == 2
