"""Lip track cache: content fingerprints, keys, hits and misses, corruption, concurrency."""

from __future__ import annotations

import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from opentimelineio.opentime import RationalTime

from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend.cache import (
    CHUNK_BYTES,
    LipTrackCache,
    cache_key,
    default_cache_dir,
    file_fingerprint,
)

PARAMS = {"fps": 25, "crop": 96, "detector": "dlib"}


def make_track(t: int = 20, seed: int = 0) -> LipTrack:
    rng = np.random.default_rng(seed)
    return LipTrack(
        clip_id=f"clip-{seed}",
        fps=25.0,
        start=RationalTime(seed, 25),
        mouth_crops=np.full((t, 96, 96), seed, np.uint8),
        landmarks=np.full((t, 68, 2), seed, np.float32),
        valid=np.ones(t, bool),
        face_embedding=rng.random(16, dtype=np.float32),
        expressions=np.full((t, 3), seed, np.float32),
    )


def seed_of(track: LipTrack) -> int:
    """Which `make_track(seed=...)` this is, checking that every array agrees (no mixing)."""
    seed = int(track.mouth_crops[0, 0, 0])
    assert track.clip_id == f"clip-{seed}"
    assert (track.mouth_crops == seed).all()
    assert (track.landmarks == seed).all()
    assert (track.expressions == seed).all()
    return seed


@pytest.fixture
def media(tmp_path) -> Path:
    path = tmp_path / "media" / "clip.mov"
    path.parent.mkdir()
    path.write_bytes(np.random.default_rng(1).bytes(4 * CHUNK_BYTES))
    return path


def test_cache_dir_env_is_used_as_is(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGINTALK_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    assert LipTrackCache().root == tmp_path / "c"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG is Linux")
def test_cache_dir_follows_xdg_on_linux(tmp_path, monkeypatch):
    monkeypatch.delenv("IMAGINTALK_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "imagintalk" / "liptracks"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "imagintalk" / "liptracks"


def test_fingerprint_follows_content_not_location(media, tmp_path):
    copy = tmp_path / "moved.mov"
    shutil.copyfile(media, copy)
    assert file_fingerprint(copy) == file_fingerprint(media)

    data = bytearray(media.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 1
    copy.write_bytes(bytes(data))
    assert file_fingerprint(copy) != file_fingerprint(media)

    data[middle] ^= 1
    copy.write_bytes(bytes(data) + b"\0")
    assert file_fingerprint(copy) != file_fingerprint(media)

    data[CHUNK_BYTES + 10] ^= 1  # between the sampled MiB: unnoticed by design
    copy.write_bytes(bytes(data))
    assert file_fingerprint(copy) == file_fingerprint(media)


def test_fingerprint_of_small_file_covers_every_byte(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    data = bytearray(np.random.default_rng(2).bytes(CHUNK_BYTES + 12345))
    a.write_bytes(bytes(data))
    data[CHUNK_BYTES + 5] ^= 1
    b.write_bytes(bytes(data))
    assert file_fingerprint(a) != file_fingerprint(b)


def test_key_depends_on_content_range_and_params(media, tmp_path):
    key = cache_key(media, 1.5, 4.0, PARAMS)
    copy = tmp_path / "copy.mov"
    shutil.copyfile(media, copy)
    assert cache_key(copy, 1.5, 4.0, dict(reversed(PARAMS.items()))) == key
    assert cache_key(media, 1.5 + 1e-9, 4.0, PARAMS) == key  # microsecond resolution
    assert (
        len(
            {
                key,
                cache_key(media, 1.5, 4.000001, PARAMS),
                cache_key(media, 1.5, None, PARAMS),
                cache_key(media, 0.0, 4.0, PARAMS),
                cache_key(media, 1.5, 4.0, {**PARAMS, "crop": 88}),
                cache_key(media, 1.5, 4.0, {**PARAMS, "new": True}),
            }
        )
        == 6
    )


def test_key_refuses_parameters_json_cannot_hold(media):
    with pytest.raises(TypeError, match="object"):
        cache_key(media, 0.0, None, {"x": object()})
    np_key = cache_key(media, 0.0, None, {"crop": np.int64(96), "p": Path("a/b")})
    assert np_key == cache_key(media, 0.0, None, {"crop": 96, "p": "a/b"})


def test_put_then_get_hits_and_other_keys_miss(tmp_path, media):
    cache = LipTrackCache(tmp_path / "cache")
    key = cache_key(media, 0.0, None, PARAMS)
    assert cache.get(key) is None
    path = cache.put(key, make_track(seed=3), {"source": "test"})
    assert path == tmp_path / "cache" / key[:2] / f"{key}.npz"
    assert seed_of(cache.get(key)) == 3
    assert cache.get(cache_key(media, 0.0, None, {**PARAMS, "crop": 88})) is None
    assert cache.get(cache_key(media, 0.5, None, PARAMS)) is None
    assert cache.entries() == [path]
    assert cache.size_bytes() == path.stat().st_size


def test_corrupt_entry_is_a_miss_and_is_removed(tmp_path):
    cache = LipTrackCache(tmp_path)
    key = "ab" * 32
    path = cache.put(key, make_track())
    path.write_bytes(path.read_bytes()[:1000])
    assert cache.get(key) is None
    assert not path.exists()
    assert cache.get(key) is None


def test_clear_removes_only_entries(tmp_path):
    cache = LipTrackCache(tmp_path)
    for seed in range(3):
        cache.put(f"{seed:02d}" * 32, make_track(seed=seed))
    cache.put("00" + "ff" * 31, make_track())  # same shard as the first
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "00" / "readme.npz").write_bytes(b"not an entry")
    assert len(cache.entries()) == 4
    assert cache.clear() == 4
    assert cache.entries() == []
    assert cache.size_bytes() == 0
    assert (tmp_path / "notes.txt").exists()
    assert (tmp_path / "00" / "readme.npz").exists()
    assert not (tmp_path / "01").exists()  # emptied shard folders go too
    assert cache.clear() == 0


def test_disabled_cache_never_reads_or_writes(tmp_path):
    key = "cd" * 32
    LipTrackCache(tmp_path).put(key, make_track())
    off = LipTrackCache(tmp_path / "off", enabled=False)
    assert off.get(key) is None
    off.put(key, make_track())
    assert not (tmp_path / "off").exists()
    assert LipTrackCache(tmp_path, enabled=False).get(key) is None


def test_keys_are_checked(tmp_path):
    with pytest.raises(ValueError, match="not a cache key"):
        LipTrackCache(tmp_path).get("../../etc/passwd")


def test_concurrent_puts_and_gets_on_one_key(tmp_path):
    """Writers of different tracks and readers race on one key: readers always see whole tracks."""
    cache = LipTrackCache(tmp_path)
    key = "ef" * 32
    cache.put(key, make_track(seed=1))
    errors: list[BaseException] = []
    seen: list[int] = []
    start = threading.Barrier(6)

    def writer(seed: int) -> None:
        try:
            start.wait()
            for _ in range(15):
                cache.put(key, make_track(seed=seed))
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            start.wait()
            for _ in range(30):
                track = cache.get(key)
                assert track is not None  # an entry is replaced, never missing or partial
                seen.append(seed_of(track))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (1, 2, 3)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(seen) == 90
    assert set(seen) <= {1, 2, 3}
    assert seed_of(cache.get(key)) in {1, 2, 3}
    assert [p.name for p in (tmp_path / "ef").iterdir()] == [f"{key}.npz"]  # no temp files
