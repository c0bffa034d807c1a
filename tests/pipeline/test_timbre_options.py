"""`--voice WAV` / `--face VIDEO` on `speak` and `dub`: the timbre comes from outside the clip,
changes the speech, is recorded in each take's metadata (with the Style-DiT that spoke it: the
checkpoint's `dit_voice`), and bad files fail in one line before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.pipeline.voice_overrides_io import video_face_embedding
from imagintalk_plugin.timeline.bwf import read_wav


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint with its style paths opened, so the timbre changes the speech, and
    a `dit_voice` for the takes with a replaced identity."""
    from tiny_checkpoint import write_tiny_checkpoint

    folder = tmp_path_factory.mktemp("styled_ckpt")
    return write_tiny_checkpoint(folder, open_style=True, dit_voice=True)


def _reference(videos: list[Path]) -> Path:
    """The synth corpus's true recording of the second clip (a real voice file)."""
    manifest = videos[1].parent.parent / "manifest.jsonl"
    entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    return manifest.parent / entries[1]["audio"]


def _speak(video: Path, out: Path, checkpoint: Path, *extra: str) -> int:
    args = ["speak", str(video), "--end", "1.0", "-o", str(out), "--checkpoint", str(checkpoint)]
    return main([*args, "--steps", "2", "--quiet", *extra])


def test_speak_takes_its_timbre_from_a_reference_voice_or_another_face(
    videos: list[Path], checkpoint: Path, realdata: Path, tmp_path: Path
) -> None:
    other_face = realdata / "video" / "LivePortrait" / "d0.mp4"  # a real person, not the synth's
    if not other_face.is_file():
        pytest.skip(f"{other_face} is absent")
    outs = {name: tmp_path / f"{name}.wav" for name in ("own", "voice", "face")}
    assert _speak(videos[0], outs["own"], checkpoint) == 0
    assert _speak(videos[0], outs["voice"], checkpoint, "--voice", str(_reference(videos))) == 0
    assert _speak(videos[0], outs["face"], checkpoint, "--face", str(other_face)) == 0
    audio = {name: read_wav(path).samples for name, path in outs.items()}
    assert {len(a) for a in audio.values()} == {48000}  # 1 s delivered at 48 kHz
    assert not np.array_equal(audio["own"], audio["voice"])  # same seed, another timbre
    assert not np.array_equal(audio["own"], audio["face"])
    assert not np.array_equal(audio["voice"], audio["face"])


def test_a_face_video_gives_the_identity_the_front_end_reads(videos: list[Path]) -> None:
    first = drive(video_face_embedding(videos[0]))
    other = drive(video_face_embedding(videos[1]))
    assert first.shape == (128,)
    assert first.dtype == np.float32
    assert np.isfinite(first).all()
    assert np.linalg.norm(first) > 0
    assert not np.allclose(first, other)


def _one_clip_timeline(video: Path, folder: Path) -> Path:
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(
        otio.schema.Clip(
            name="line",
            media_reference=otio.schema.ExternalReference(target_url=video.as_uri()),
            source_range=TimeRange(RationalTime(0, 25), RationalTime(25, 25)),
        )
    )
    timeline = otio.schema.Timeline(name="scene")
    timeline.tracks.append(track)
    path = folder / "scene.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def test_dub_records_the_timbre_in_every_take(
    videos: list[Path], checkpoint: Path, tmp_path: Path
) -> None:
    timeline = _one_clip_timeline(videos[0], tmp_path)
    output = tmp_path / "voiced.otio"
    reference = _reference(videos)
    args = ["dub", str(timeline), "-o", str(output), "--checkpoint", str(checkpoint)]
    args += ["--steps", "2", "--quiet"]
    assert main([*args, "--voice", str(reference)]) == 0
    sidecar = next((tmp_path / "voiced_dialogue").glob("*.take.json"))
    take = json.loads(sidecar.read_text())
    assert take["settings"]["timbre"] == {
        "source": "reference audio",
        "path": str(reference.resolve()),
    }
    assert take["settings"]["reference_voice"] is True
    assert take["settings"]["style_dit"] == "dit_voice"
    # the same take with the clip's own face is another take: never reused, never over it
    assert main(args) == 0
    assert json.loads(sidecar.read_text())["settings"]["reference_voice"] is True
    take = json.loads(sidecar.with_name(sidecar.name.replace("take1", "take1_v2")).read_text())
    assert take["settings"]["timbre"] == {"source": "face"}
    assert take["settings"]["reference_voice"] is False
    assert take["settings"]["style_dit"] == "dit"


def _faceless_video(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 96, "yuv420p"
        for _ in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((96, 96, 3), 90, np.uint8), "rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("option", "name", "expected"),
    [
        ("--voice", "missing.wav", "missing.wav"),
        ("--voice", "noise.txt", "noise.txt"),
        ("--face", "missing.mp4", "does not exist"),
    ],
)
def test_an_unusable_timbre_file_is_a_one_line_error_before_any_work(
    option: str,
    name: str,
    expected: str,
    videos: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    (tmp_path / "noise.txt").write_text("not audio")
    out = tmp_path / "line.wav"
    missing_model = tmp_path / "no_model"  # never reached: the file check comes first
    assert _speak(videos[0], out, missing_model, option, str(tmp_path / name)) != 0
    err = capsys.readouterr().err.strip()
    assert expected in err
    assert "\n" not in err
    assert not out.exists()


def test_a_face_video_without_a_face_and_both_options_are_refused(
    videos: list[Path], checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    blank = _faceless_video(tmp_path / "blank.mp4")
    out = tmp_path / "line.wav"
    assert _speak(videos[0], out, checkpoint, "--face", str(blank)) == 4  # NoFaceError
    assert "blank.mp4" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit) as stop:  # argparse: --voice and --face exclude each other
        _speak(videos[0], out, checkpoint, "--face", str(videos[1]), "--voice", "x.wav")
    assert stop.value.code == 2
