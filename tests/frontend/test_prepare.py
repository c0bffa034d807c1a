"""prepare: whole front-end runs on generated videos built from real faces, the cache, the CLI."""

from pathlib import Path

import numpy as np
import pytest
from opentimelineio.opentime import RationalTime, TimeRange
from video_fixtures import read_rgb_frames, write_video

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.errors import MediaOfflineError, NoFaceError, VideoReadError
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.frontend.lip_track_builder import FrontendParams, build_lip_track
from imagintalk_plugin.frontend.lip_track_io import load_lip_track, load_lip_track_metadata
from imagintalk_plugin.frontend.prepare import prepare_clip, prepare_range


def _grid_frames(realdata: Path, name: str) -> list[np.ndarray]:
    path = realdata / "video" / "GRID" / f"{name}.mpg"
    if not path.is_file():
        pytest.skip(f"{path} not in the shared real data")
    return read_rgb_frames(path)


@pytest.fixture(scope="module")
def grid_frames(realdata: Path) -> list[np.ndarray]:
    return _grid_frames(realdata, "bbaf2n")


@pytest.fixture(scope="module")
def other_speaker(realdata: Path) -> list[np.ndarray]:
    return _grid_frames(realdata, "lrwp9a")


def _noise_video(path: Path, frames: int = 20) -> Path:
    rng = np.random.default_rng(0)
    smooth = [np.full((96, 128, 3), 40 + 5 * i, np.uint8) for i in range(frames)]
    smooth = [np.clip(f + rng.integers(0, 20, f.shape), 0, 255).astype(np.uint8) for f in smooth]
    return write_video(path, smooth)


def test_short_gaps_are_filled_and_long_ones_marked_invalid(tmp_path, grid_frames):
    frames = [f.copy() for f in grid_frames]
    blank = np.full_like(frames[0], 128)
    for t in [*range(20, 25), *range(40, 60)]:  # 0.2 s and 0.8 s without a face
        frames[t] = blank
    path = write_video(tmp_path / "gaps.mp4", frames)
    prepared = drive(build_lip_track(path, 0.0, None, clip_id="gaps"))
    valid = prepared.track.valid
    assert valid[20:25].all()
    assert not valid[42:58].any()
    assert valid[:20].all()
    assert valid[62:].all()
    assert (prepared.track.mouth_crops[45] == 0).all()
    assert any("invalid" in note for note in prepared.notes)


def test_the_talking_face_is_chosen_and_can_be_overridden(tmp_path, grid_frames, other_speaker):
    still = other_speaker[0]  # left: a face that never moves its mouth
    frames = [np.concatenate([still, talking], axis=1) for talking in grid_frames[:50]]
    path = write_video(tmp_path / "two.mp4", frames)
    width = grid_frames[0].shape[1]
    auto = drive(build_lip_track(path, 0.0, None, clip_id="two")).track
    assert auto.landmarks[auto.valid, :, 0].mean() > width  # the speaker on the right
    assert drive(build_lip_track(path, 0.0, None, clip_id="two")).faces_seen == 2
    left = drive(build_lip_track(path, 0.0, None, clip_id="two", params=FrontendParams(face=0)))
    assert left.track.landmarks[left.track.valid, :, 0].mean() < width
    assert np.linalg.norm(left.track.face_embedding - auto.face_embedding) > 0.4  # two people


def test_no_face_is_an_error_naming_the_clip_or_an_invalid_track(tmp_path):
    path = _noise_video(tmp_path / "wall.mp4")
    with pytest.raises(NoFaceError, match="'wall-clip'"):
        drive(build_lip_track(path, 0.0, None, clip_id="wall-clip"))
    prepared = drive(build_lip_track(path, 0.0, None, clip_id="wall", best_effort=True))
    assert prepared.track.num_frames == 20
    assert not prepared.track.valid.any()


def test_a_zero_length_range_is_an_error(tmp_path):
    path = _noise_video(tmp_path / "short.mp4")
    with pytest.raises(VideoReadError, match=r"short\.mp4"):
        drive(build_lip_track(path, 0.5, 0.5, clip_id="c"))


def test_second_run_comes_from_the_cache_without_decoding(tmp_path, grid_frames, monkeypatch):
    path = write_video(tmp_path / "take.mp4", grid_frames[:30])
    cache = LipTrackCache(tmp_path / "cache")
    first = drive(prepare_range(path, 0.2, 1.0, clip_id="a", cache=cache))
    assert len(cache.entries()) == 1

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded although cached")

    monkeypatch.setattr("imagintalk_plugin.frontend.lip_track_builder.iter_frames", no_decoding)
    copy = tmp_path / "renamed copy.mp4"
    copy.write_bytes(path.read_bytes())
    second = drive(prepare_range(copy, 0.2, 1.0, clip_id="b", cache=cache))
    assert second.track.clip_id == "b"
    np.testing.assert_array_equal(second.track.mouth_crops, first.track.mouth_crops)
    np.testing.assert_array_equal(second.track.face_embedding, first.track.face_embedding)
    assert second.face_frame == first.face_frame
    with pytest.raises(AssertionError, match="decoded"):  # another range is not in the cache
        drive(prepare_range(path, 0.0, 1.0, clip_id="a", cache=cache))


def test_a_timeline_clip_is_read_from_its_source_range(tmp_path, grid_frames):
    path = write_video(tmp_path / "A001.mp4", grid_frames[:40])
    clip = ClipRef(
        clip_id="V1-001",
        name="A001",
        track_name="V1",
        track_index=1,
        record_range=TimeRange(RationalTime(0, 25), RationalTime(20, 25)),
        # Media time starts at the camera's 01:00:00:00; the clip uses frames 10-29 of the file.
        source_range=TimeRange(RationalTime(90010, 25), RationalTime(20, 25)),
        timeline_fps=25.0,
        timeline_start=RationalTime(0, 25),
        drop_frame=False,
        media_path=str(path),
        media_fps=25.0,
        available_range=TimeRange(RationalTime(90000, 25), RationalTime(40, 25)),
    )
    track = drive(prepare_clip(clip, cache=LipTrackCache(enabled=False))).track
    assert track.num_frames == 20
    assert track.start == RationalTime(90010, 25)
    direct = drive(build_lip_track(path, 0.4, 1.2, clip_id="x")).track
    np.testing.assert_array_equal(track.mouth_crops, direct.mouth_crops)
    offline = ClipRef(**{**clip.__dict__, "media_path": str(tmp_path / "gone.mp4")})
    with pytest.raises(MediaOfflineError, match="A001"):
        drive(prepare_clip(offline))


def test_prepare_command_writes_track_and_contact_sheet(tmp_path, grid_frames, capsys):
    video = write_video(tmp_path / "take 1.mov", grid_frames[:40])
    out = tmp_path / "out"
    assert (
        main(
            [
                "prepare",
                str(video),
                "--start",
                "00:00:00:05",
                "--end",
                "1.2",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    track = load_lip_track(out / "take 1.liptrack.npz")
    assert track.num_frames == 25
    assert track.valid.all()
    assert "expression_names" in load_lip_track_metadata(out / "take 1.liptrack.npz")
    png = (out / "take 1.contact.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert "lip track:" in capsys.readouterr().out
    # Never overwrites without --force; the existing files stay as they were.
    assert main(["prepare", str(video), "--out", str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "take 1.contact.png").read_bytes() == png
    assert main(["prepare", str(video), "--out", str(out), "--quiet", "--force"]) == 0


def test_prepare_command_bad_input_is_one_line(tmp_path, capsys):
    assert main(["prepare", str(tmp_path / "missing.mp4"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("imagintalk: error:")
    assert "missing.mp4" in err
    assert "\n" not in err
    wall = _noise_video(tmp_path / "wall.mp4")
    assert main(["prepare", str(wall), "--out", str(tmp_path / "o"), "--quiet"]) == 4
    assert "no face" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert (
        main(["prepare", str(wall), "--out", str(tmp_path / "o"), "--quiet", "--best-effort"]) == 0
    )
    assert not load_lip_track(tmp_path / "o" / "wall.liptrack.npz").valid.any()
    assert (
        main(["prepare", str(wall), "--start", "0.5", "--end", "0.2", "--out", str(tmp_path / "o")])
        == 2
    )


def test_cache_command(capsys):
    assert main(["cache", "info"]) == 0
    assert "lip track(s)" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert "removed" in capsys.readouterr().out
