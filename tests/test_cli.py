"""The `imagintalk` command: inspect JSON, placement round trips, clean errors, fast start."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin import __version__
from imagintalk_plugin.cli import main
from imagintalk_plugin.timeline.bwf import read_bwf_time_reference
from imagintalk_plugin.timeline.timecode import parse_timecode


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagintalk_plugin", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _timeline(tmp_path: Path, rate: float, drop: bool) -> Path:
    media = tmp_path / "take.mov"
    media.write_bytes(b"movie")
    timeline = otio.schema.Timeline(name="scene 12")
    timeline.global_start_time = otio.opentime.from_timecode(
        "01:00:00;00" if drop else "01:00:00:00", rate
    )
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(
        otio.schema.Gap(source_range=TimeRange(RationalTime(0, rate), RationalTime(1799, rate)))
    )
    for name, start in (("12A", 300), ("12B", 900)):
        track.append(
            otio.schema.Clip(
                name=name,
                media_reference=otio.schema.ExternalReference(target_url=media.as_uri()),
                source_range=TimeRange(RationalTime(start, rate), RationalTime(50, rate)),
            )
        )
    timeline.tracks.append(track)
    path = tmp_path / "scene.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def _wav(path: Path, seconds: float = 1.5, rate: int = 48000) -> Path:
    samples = 0.2 * np.sin(np.linspace(0, 440 * 2 * np.pi * seconds, int(rate * seconds)))
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_inspect_json_has_the_documented_fields(tmp_path, capsys):
    path = _timeline(tmp_path, 30000 / 1001, True)
    assert main(["timeline", "inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rate"] == pytest.approx(29.97, abs=1e-3)
    assert report["start_timecode"] == "01:00:00;00"
    first = report["clips"][0]
    for key in (
        "id",
        "name",
        "track",
        "record_start_frame",
        "record_end_frame",
        "record_start_timecode",
        "source_start_timecode",
        "media_path",
        "media_rate",
        "offline",
        "speaker",
    ):
        assert key in first
    # frame 1799 after 01:00:00;00 crosses the first minute: labels ;00 and ;01 are skipped
    assert (first["record_start_frame"], first["record_end_frame"]) == (1799, 1849)
    assert first["record_start_timecode"] == "01:00:59;29"
    assert report["clips"][1]["record_start_timecode"] == "01:01:01;21"
    assert first["offline"] is False


@pytest.mark.parametrize(("rate", "drop"), [(24000 / 1001, False), (30000 / 1001, True)])
@pytest.mark.parametrize("suffix", [".otio", ".xml"])
def test_place_round_trip_is_frame_exact(tmp_path, rate, drop, suffix):
    source = _timeline(tmp_path, rate, drop)
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    out = tmp_path / f"dubbed{suffix}"
    wav_a, wav_b = _wav(tmp_path / "a.wav"), _wav(tmp_path / "b.wav", 1.0)
    code = main(
        [
            "timeline",
            "place",
            str(source),
            "--audio",
            f"V1-001={wav_a}",
            "--audio",
            f"V1-002={wav_b}",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    back = otio.adapters.read_from_file(str(out))
    pictures = list(back.video_tracks()[0].find_clips())
    dialogue = [c for t in back.audio_tracks() for c in t.find_clips()]
    assert len(dialogue) == 2
    start = parse_timecode("01:00:00;00" if drop else "01:00:00:00", rate)
    for picture, audio in zip(pictures, dialogue, strict=True):
        frame = round(picture.range_in_parent().start_time.value)
        assert round(audio.range_in_parent().start_time.value) == frame
        wav = Path(tmp_path / "dubbed_dialogue").glob(f"*{picture.name}*.wav")
        (bwf,) = list(wav)
        seconds = (start + frame) * 1001 / (24000 if rate < 24 else 30000)
        assert abs(read_bwf_time_reference(bwf) - seconds * 48000) <= 0.5
    assert (
        main(["timeline", "place", str(source), "--audio", f"V1-001={wav_a}", "-o", str(out)]) == 2
    )  # exists, no --force


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.otio", None, "file not found"),
        ("truncated.otio", b'{"OTIO_SCHEMA": "Timeline.1", "tracks": {', "truncated or malformed"),
        ("broken.aaf", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "AAF"),
        ("cut.xml", b"<xmeml version='4'><sequence><name>x</na", "malformed XML"),
        ("notes.txt", b"hello editor", "not a timeline format"),
        ("empty.edl", b"", "empty"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = _run("timeline", "inspect", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert reason in lines[0]
    assert name in lines[0]


def test_place_rejects_unknown_clip_and_bad_pairs(tmp_path, capsys):
    source = _timeline(tmp_path, 25.0, False)
    wav = _wav(tmp_path / "a.wav")
    assert (
        main(
            [
                "timeline",
                "place",
                str(source),
                "--audio",
                f"V9-001={wav}",
                "-o",
                str(tmp_path / "o.otio"),
            ]
        )
        == 2
    )
    assert "no clip 'V9-001'" in capsys.readouterr().err
    assert (
        main(
            ["timeline", "place", str(source), "--audio", "V1-001", "-o", str(tmp_path / "o.otio")]
        )
        == 2
    )
    assert (
        main(["timeline", "place", str(source), "--audio", f"V1-001={wav}", "-o", str(source)]) == 2
    )
    assert not (tmp_path / "o_dialogue").exists()


def test_help_and_inspect_do_not_import_heavy_packages(tmp_path):
    path = _timeline(tmp_path, 24.0, False)
    code = (
        "import sys; from imagintalk_plugin.cli import main; "
        f"main(['timeline', 'inspect', {str(path)!r}]); "
        "heavy = [m for m in ('torch', 'transformers', 'onnxruntime', 'PySide6') "
        "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.realdata
def test_inspect_real_edl_from_the_command_line(timelines_dir):
    edl = timelines_dir / "lossless-cut/edl/cmx3600.edl"
    result = _run("timeline", "inspect", str(edl), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["drop_frame"] is True
    assert len(report["clips"]) == 9
