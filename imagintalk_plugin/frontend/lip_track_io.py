"""Save and load a `LipTrack` as one `.npz` file, atomically and strictly.

The file holds every array of the track plus a JSON header (format name and version, clip id,
fps, start time, expression feature names, free metadata). Arrays are stored uncompressed:
mouth crops barely compress and zlib would make a 75-frame track ~10x slower to save.
Writing goes to a hidden temporary file in the same folder that is moved into place with
`os.replace`, so a reader never sees half a file and a failed save leaves nothing behind.
Loading uses `allow_pickle=False` and refuses anything it did not write: another format, a
newer version, missing or malformed arrays, a truncated or corrupt archive.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import numpy as np
from opentimelineio.opentime import RationalTime

from imagintalk_plugin.core.errors import ImagintalkError
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.core.signals import LipTrack

FORMAT_NAME = "imagintalk.liptrack"
FORMAT_VERSION = 1
EXPRESSION_NAMES_KEY = "expression_names"  # metadata key lifted into the header
_REQUIRED = ("mouth_crops", "landmarks", "valid", "face_embedding", "expressions")
_OPTIONAL = ("face_crop",)
_HEADER = "header"
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


class LipTrackFileError(ImagintalkError):
    """A lip track file cannot be read (or written): missing, corrupt, foreign or too new."""

    exit_code = 2

    def __init__(self, path: str | Path, reason: str, *, writing: bool = False) -> None:
        self.path = str(path)
        self.reason = reason
        verb = "write" if writing else "read"
        super().__init__(f"cannot {verb} lip track '{path}': {reason}")


def save_lip_track(track: LipTrack, path: Path, metadata: dict[str, object] | None = None) -> None:
    """Write `track` (and JSON-able `metadata`) to `path` atomically; replaces an old file.

    `metadata["expression_names"]`, if given, must name the E expression features. Raises
    `TypeError`/`ValueError` for bad metadata (before touching the disk) and
    `LipTrackFileError` when the file cannot be written.
    """
    path = Path(path)
    payload = {name: np.asarray(getattr(track, name)) for name in _REQUIRED}
    if track.face_crop is not None:
        payload["face_crop"] = np.asarray(track.face_crop)
    payload[_HEADER] = np.array(_header_json(track, metadata))
    _write_atomically(path, payload)


def load_lip_track(path: Path) -> LipTrack:
    """Read a track written by `save_lip_track`; raises `LipTrackFileError` on any problem."""
    path = Path(path)
    header, arrays = _read(path, arrays=True)
    start = header["start"]
    try:
        return LipTrack(
            clip_id=header["clip_id"],
            fps=float(header["fps"]),
            start=RationalTime(float(start["value"]), float(start["rate"])),
            face_crop=arrays.pop("face_crop", None),
            **arrays,
        )
    except ValueError as exc:
        raise LipTrackFileError(path, f"invalid arrays: {exc}") from exc


def load_lip_track_metadata(path: Path) -> dict[str, object]:
    """The header of a track file (format, version, clip_id, fps, start, names, metadata).

    Reads only the header, not the arrays; as strict as `load_lip_track` about the header.
    """
    header, _ = _read(Path(path), arrays=False)
    return header


def _header_json(track: LipTrack, metadata: dict[str, object] | None) -> str:
    extra = dict(metadata or {})
    names = extra.pop(EXPRESSION_NAMES_KEY, None)
    if names is not None:
        names = list(names)  # type: ignore[call-overload]
        n_expr = track.expressions.shape[1]
        if len(names) != n_expr or not all(isinstance(n, str) for n in names):
            raise ValueError(f"expression_names must be {n_expr} strings, got {names!r}")
    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "clip_id": track.clip_id,
        "fps": float(track.fps),
        "start": {"value": float(track.start.value), "rate": float(track.start.rate)},
        EXPRESSION_NAMES_KEY: names,
        "metadata": extra,
    }
    return json.dumps(header, allow_nan=False, ensure_ascii=False)


def _write_atomically(path: Path, payload: dict[str, np.ndarray]) -> None:
    """np.savez into a temporary file next to `path`, then rename it onto `path`."""
    try:
        with atomic_path(path) as tmp, tmp.open("wb") as file:
            np.savez(file, **payload)
    except OSError as exc:
        raise LipTrackFileError(path, exc.strerror or str(exc), writing=True) from exc


def _read(path: Path, *, arrays: bool) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    """The validated header and (if asked) the validated arrays of a track file."""
    if not path.is_file():
        raise LipTrackFileError(path, "no such file" if not path.exists() else "not a file")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise LipTrackFileError(path, "not an .npz archive")
        with npz:
            if _HEADER not in npz.files:
                raise LipTrackFileError(path, "not a lip track file (no header)")
            header = _check_header(path, npz[_HEADER])
            if not arrays:
                return header, {}
            missing = [name for name in _REQUIRED if name not in npz.files]
            if missing:
                raise LipTrackFileError(path, f"missing arrays: {', '.join(missing)}")
            names = _REQUIRED + tuple(n for n in _OPTIONAL if n in npz.files)
            loaded = {name: npz[name] for name in names}
    except _READ_ERRORS as exc:
        raise LipTrackFileError(path, f"corrupt or truncated file ({exc})") from exc
    for name, array in loaded.items():
        ok = array.dtype == np.bool_ if name == "valid" else array.dtype.kind in "uif"
        if not ok:
            raise LipTrackFileError(path, f"array '{name}' has dtype {array.dtype}")
    return header, loaded


def _check_header(path: Path, raw: np.ndarray) -> dict[str, object]:
    """Parse the JSON header and check format, version and field types."""
    if raw.ndim != 0 or raw.dtype.kind != "U":
        raise LipTrackFileError(path, "not a lip track file (header is not text)")
    header = json.loads(str(raw))
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        found = header.get("format") if isinstance(header, dict) else None
        raise LipTrackFileError(path, f"not a lip track file (format {found!r})")
    version = header.get("version")
    if not isinstance(version, int) or version < 1:
        raise LipTrackFileError(path, f"bad format version {version!r}")
    if version > FORMAT_VERSION:
        raise LipTrackFileError(
            path, f"format version {version} is newer than this program reads ({FORMAT_VERSION})"
        )
    start = header.get("start")
    names = header.get(EXPRESSION_NAMES_KEY)
    valid = (
        isinstance(header.get("clip_id"), str)
        and _is_number(header.get("fps"))
        and isinstance(start, dict)
        and _is_number(start.get("value"))
        and _is_number(start.get("rate"))
        and (names is None or isinstance(names, list))
        and isinstance(header.get("metadata"), dict)
    )
    if not valid:
        raise LipTrackFileError(path, "malformed header")
    return header


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
