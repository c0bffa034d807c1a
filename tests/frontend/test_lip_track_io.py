"""LipTrack files: exact round trip, atomic writes, strict reading."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from opentimelineio.opentime import RationalTime

from imagintalk_plugin.core import files
from imagintalk_plugin.core.errors import ImagintalkError
from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend import lip_track_io
from imagintalk_plugin.frontend.lip_track_io import (
    FORMAT_NAME,
    FORMAT_VERSION,
    LipTrackFileError,
    load_lip_track,
    load_lip_track_metadata,
    save_lip_track,
)

ARRAYS = ("mouth_crops", "landmarks", "valid", "face_embedding", "expressions", "face_crop")


def make_track(t: int = 75, face_crop: bool = True, seed: int = 0) -> LipTrack:
    rng = np.random.default_rng(seed)
    valid = np.ones(t, bool)
    valid[::7] = False
    return LipTrack(
        clip_id=f"clip-{seed}",
        fps=25.0,
        start=RationalTime(1234.5, 24000 / 1001),
        mouth_crops=rng.integers(0, 256, (t, 96, 96), dtype=np.uint8),
        landmarks=rng.random((t, 68, 2), dtype=np.float32) * 640,
        valid=valid,
        face_embedding=rng.random(128, dtype=np.float32),
        expressions=rng.random((t, 5), dtype=np.float32),
        face_crop=rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) if face_crop else None,
    )


def assert_same(a: LipTrack, b: LipTrack) -> None:
    assert (a.clip_id, a.fps, a.start) == (b.clip_id, b.fps, b.start)
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype, name
            np.testing.assert_array_equal(x, y, err_msg=name)


def rewrite(path: Path, header: dict | None = None, drop: str | None = None) -> None:
    """Rewrite a saved track with another header or without one array."""
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files if name != drop}
    if header is not None:
        arrays["header"] = np.array(json.dumps(header))
    path.unlink()
    with path.open("wb") as file:
        np.savez(file, **arrays)


@pytest.mark.parametrize("face_crop", [True, False])
def test_round_trip_keeps_every_array_and_field(tmp_path, face_crop):
    track = make_track(face_crop=face_crop)
    path = tmp_path / "t.npz"
    save_lip_track(track, path)
    assert_same(load_lip_track(path), track)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npz"]


def test_metadata_and_expression_names_round_trip(tmp_path):
    path = tmp_path / "t.npz"
    names = ["jaw", "smile", "brow", "pucker", "blink"]
    save_lip_track(make_track(), path, {"expression_names": names, "detector": "dlib", "n": 3})
    header = load_lip_track_metadata(path)
    assert header["format"] == FORMAT_NAME
    assert header["version"] == FORMAT_VERSION
    assert header["clip_id"] == "clip-0"
    assert header["start"] == {"value": 1234.5, "rate": 24000 / 1001}
    assert header["expression_names"] == names
    assert header["metadata"] == {"detector": "dlib", "n": 3}


def test_bad_metadata_fails_before_touching_disk(tmp_path):
    with pytest.raises(ValueError, match="expression_names"):
        save_lip_track(make_track(), tmp_path / "t.npz", {"expression_names": ["a"]})
    with pytest.raises(TypeError):
        save_lip_track(make_track(), tmp_path / "t.npz", {"when": object()})
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_whole_file(tmp_path):
    path = tmp_path / "t.npz"
    save_lip_track(make_track(seed=1), path)
    save_lip_track(make_track(t=10, seed=2, face_crop=False), path)
    assert_same(load_lip_track(path), make_track(t=10, seed=2, face_crop=False))
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]


def test_failure_mid_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "t.npz"
    save_lip_track(make_track(seed=1), path)

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lip_track_io.np, "savez", broken_savez)
    with pytest.raises(LipTrackFileError, match=r"cannot write lip track .*No space left"):
        save_lip_track(make_track(seed=2), path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]
    assert_same(load_lip_track(path), make_track(seed=1))


def test_save_into_path_under_a_file_fails_cleanly(tmp_path):
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "t.npz"
    with pytest.raises(LipTrackFileError, match="cannot write") as info:
        save_lip_track(make_track(), target)
    assert info.value.path == str(target)
    assert isinstance(info.value, ImagintalkError)
    assert info.value.exit_code == 2
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions, not root"
)
def test_save_into_read_only_folder_fails_cleanly(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(LipTrackFileError, match="cannot write"):
            save_lip_track(make_track(), folder / "t.npz")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_permission_denied_fails_cleanly(tmp_path, monkeypatch):
    """The read-only-folder case as root sees it: creating the temp file is refused."""

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkdtemp", refuse)
    with pytest.raises(LipTrackFileError, match="Permission denied"):
        save_lip_track(make_track(), tmp_path / "t.npz")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def saved(tmp_path) -> Path:
    path = tmp_path / "t.npz"
    save_lip_track(make_track(), path, {"expression_names": list("abcde")})
    return path


def header_of(path: Path) -> dict:
    return dict(load_lip_track_metadata(path))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "someone.else"}, "not a lip track file"),
        ({"version": FORMAT_VERSION + 1}, "newer than this program reads"),
        ({"version": "1"}, "bad format version"),
        ({"fps": "25"}, "malformed header"),
        ({"start": None}, "malformed header"),
    ],
)
def test_foreign_or_future_headers_are_refused(saved, change, message):
    rewrite(saved, header={**header_of(saved), **change})
    for load in (load_lip_track, load_lip_track_metadata):
        with pytest.raises(LipTrackFileError, match=message) as info:
            load(saved)
        assert str(saved) in str(info.value)


@pytest.mark.parametrize("drop", ["landmarks", "header"])
def test_missing_arrays_are_refused(saved, drop):
    rewrite(saved, drop=drop)
    with pytest.raises(LipTrackFileError, match=r"missing arrays|no header"):
        load_lip_track(saved)


def test_inconsistent_or_wrongly_typed_arrays_are_refused(saved):
    with np.load(saved) as npz:
        arrays = dict(npz.items())
    for name, bad in [("valid", np.ones(75, np.uint8)), ("landmarks", np.zeros((74, 68, 2)))]:
        with saved.open("wb") as file:
            np.savez(file, **{**arrays, name: bad})
        with pytest.raises(LipTrackFileError, match=f"'{name}'|invalid arrays"):
            load_lip_track(saved)


def test_truncated_file_is_refused(saved):
    data = saved.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        saved.write_bytes(data[:cut])
        with pytest.raises(LipTrackFileError, match="corrupt or truncated") as info:
            load_lip_track(saved)
        assert str(saved) in str(info.value)


def test_flipped_byte_in_crops_is_refused(saved):
    data = bytearray(saved.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside the stored mouth crops: the zip CRC catches it
    saved.write_bytes(bytes(data))
    with pytest.raises(LipTrackFileError, match="corrupt"):
        load_lip_track(saved)


def test_non_archives_and_pickles_are_refused(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all" * 10)
    npy = tmp_path / "array.npz"
    with npy.open("wb") as file:
        np.save(file, np.zeros(3))
    pickled = tmp_path / "pickled.npz"
    with pickled.open("wb") as file:
        np.savez(file, header=np.array([{"format": FORMAT_NAME}], dtype=object))
    for path, message in [
        (junk, "corrupt"),
        (npy, "not an .npz archive"),
        (pickled, "corrupt"),
        (tmp_path / "missing.npz", "no such file"),
        (tmp_path, "not a file"),
    ]:
        with pytest.raises(LipTrackFileError, match=message):
            load_lip_track(path)
