"""Content-addressed on-disk cache of prepared `LipTrack`s.

Preparing a clip (decode, detect, crop) is slow, so the result is kept under a key made from
the media's content fingerprint, the source range and the preparation parameters: a renamed
or moved copy of a file hits, an edited file or changed parameters miss. Entries are
`lip_track_io` files sharded as `root/ab/abcdef....npz`. Writes are atomic renames, so two
processes preparing the same clip at once both succeed and readers only ever see complete
entries; an unreadable entry is deleted and counts as a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend.lip_track_io import (
    LipTrackFileError,
    load_lip_track,
    load_lip_track_metadata,
    save_lip_track,
)

CACHE_SCHEMA_VERSION = 1  # bump when what a key means or an entry holds changes
CACHE_DIR_ENV = "IMAGINTALK_CACHE_DIR"
CHUNK_BYTES = 1 << 20
_SUFFIX = ".npz"
_KEY = re.compile(r"[0-9a-f]{16,128}")


def default_cache_dir() -> Path:
    """`$IMAGINTALK_CACHE_DIR` as is, else the platform's user cache + imagintalk/liptracks."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "imagintalk" / "liptracks"


def file_fingerprint(path: Path) -> str:
    """Sha256 hex of a file's size and its first, middle and last MiB (all of a small file).

    Identifies content, not location, without reading multi-GB media in full; an edit that
    touches none of the three sampled MiB and keeps the size goes unnoticed (accepted: media
    files are rewritten, not patched in place). Raises `OSError` if the file is unreadable.
    """
    digest = hashlib.sha256(b"imagintalk.fingerprint.v1\0")
    with Path(path).open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        digest.update(size.to_bytes(8, "little"))
        if size <= 3 * CHUNK_BYTES:
            digest.update(file.read())
        else:
            for offset in (0, (size - CHUNK_BYTES) // 2, size - CHUNK_BYTES):
                file.seek(offset)
                digest.update(file.read(CHUNK_BYTES))
    return digest.hexdigest()


def cache_key(path: Path, start_s: float, end_s: float | None, params: Mapping[str, object]) -> str:
    """Sha256 hex key of (media content, source range to the microsecond, params, schema)."""
    identity = {
        "schema": CACHE_SCHEMA_VERSION,
        "media": file_fingerprint(path),
        "start_us": round(start_s * 1e6),
        "end_us": None if end_s is None else round(end_s * 1e6),
        "params": dict(params),
    }
    text = json.dumps(
        identity, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_jsonable
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _jsonable(value: object) -> object:
    """Canonical JSON form of the parameter values json does not know."""
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, set | frozenset):
        return sorted(value)  # type: ignore[type-var]
    raise TypeError(f"cache parameter of type {type(value).__name__} is not JSON-able")


class LipTrackCache:
    """Prepared tracks by `cache_key`; disabled, `get` always misses and `put` writes nothing."""

    def __init__(self, root: Path | None = None, enabled: bool = True) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.enabled = enabled

    def path_for(self, key: str) -> Path:
        """Where the entry for `key` lives (whether or not it exists)."""
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.root / key[:2] / f"{key}{_SUFFIX}"

    def get(self, key: str) -> LipTrack | None:
        """The cached track, or None on a miss; a corrupt entry is removed and misses."""
        path = self.path_for(key)
        if not self.enabled:
            return None
        try:
            before = path.stat()
        except OSError:
            return None
        try:
            return load_lip_track(path)
        except LipTrackFileError:
            self._discard(path, before)
            return None

    def get_entry(self, key: str) -> tuple[LipTrack, dict[str, object]] | None:
        """The cached track and the metadata stored with it, or None on a miss."""
        track = self.get(key)
        if track is None:
            return None
        try:
            header = load_lip_track_metadata(self.path_for(key))
        except LipTrackFileError:
            return None
        stored = header.get("metadata")
        return track, dict(stored) if isinstance(stored, dict) else {}

    def put(self, key: str, track: LipTrack, metadata: dict[str, object] | None = None) -> Path:
        """Store `track` under `key` atomically and return the entry's path.

        A concurrent writer of the same key is fine: the last rename wins and both entries
        are complete. Raises `LipTrackFileError` only if nothing could be stored. Disabled:
        writes nothing and returns the path the entry would have.
        """
        path = self.path_for(key)
        if not self.enabled:
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_lip_track(track, path, metadata)
        except (OSError, LipTrackFileError) as exc:
            if path.is_file():  # another process stored it (Windows refuses to replace open files)
                return path
            if isinstance(exc, LipTrackFileError):
                raise
            raise LipTrackFileError(path, exc.strerror or str(exc), writing=True) from exc
        return path

    def entries(self) -> list[Path]:
        """The entry files now in the cache, sorted (never temporary files or foreign files)."""
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.glob(f"??/*{_SUFFIX}"):
            key = path.name[: -len(_SUFFIX)]
            if _KEY.fullmatch(key) and path.parent.name == key[:2] and path.is_file():
                found.append(path)
        return sorted(found)

    def size_bytes(self) -> int:
        """Total size of the entries on disk."""
        total = 0
        for path in self.entries():
            with contextlib.suppress(OSError):  # removed meanwhile
                total += path.stat().st_size
        return total

    def clear(self) -> int:
        """Remove every entry (and emptied shard folders); returns how many were removed."""
        removed = 0
        for path in self.entries():
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
            with contextlib.suppress(OSError):  # not empty: a write in flight, or foreign files
                path.parent.rmdir()
        return removed

    @staticmethod
    def _discard(path: Path, seen: os.stat_result) -> None:
        """Delete a corrupt entry unless another writer has replaced it since it was read."""
        with contextlib.suppress(OSError):
            now = path.stat()
            if (now.st_ino, now.st_mtime_ns, now.st_size) == (
                seen.st_ino,
                seen.st_mtime_ns,
                seen.st_size,
            ):
                path.unlink()
