"""The media inside an .otioz bundle, unpacked once so its clips can be read and dubbed.

An .otioz is a zip holding `content.otio` and the media under `media/`, referenced by paths
relative to the bundle. Nothing can decode a picture inside a zip, so the reader unpacks the
media members into a cache folder keyed by the bundle's path, size and modification time (a
changed bundle gets a new folder; an unchanged one is not unpacked again) and takes the
bundle's relative links against that folder.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

from imagintalk_plugin.core.errors import TimelineReadError

_MEDIA_DIR = "media/"  # opentimelineio.adapters.file_bundle_utils.BUNDLE_DIR_NAME
CACHE_ROOT_NAME = "imagintalk-otioz"


def unpack_otioz_media(path: Path, cache_root: Path | None = None) -> Path:
    """Unpack the bundle's `media/` files (when not already there); return the folder the
    bundle's relative links are relative to. Raises `TimelineReadError` when it cannot."""
    stat = path.stat()
    key = f"{path.absolute()}|{stat.st_size}|{stat.st_mtime_ns}"
    root = cache_root or Path(tempfile.gettempdir()) / CACHE_ROOT_NAME
    folder = root / hashlib.sha256(key.encode()).hexdigest()[:16]
    try:
        with zipfile.ZipFile(path) as bundle:
            for member in bundle.infolist():
                if member.is_dir() or not member.filename.startswith(_MEDIA_DIR):
                    continue
                _unpack_member(bundle, member, folder)
    except (OSError, zipfile.BadZipFile) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise TimelineReadError(path, f"cannot unpack the bundle's media: {reason}") from err
    return folder


def _unpack_member(bundle: zipfile.ZipFile, member: zipfile.ZipInfo, folder: Path) -> None:
    """One media file, written under a temporary name and renamed (a reader interrupted
    midway never leaves a short file that a later read would take as unpacked)."""
    target = (folder / member.filename).resolve()
    if not target.is_relative_to(folder.resolve()):
        return  # a crafted "media/../../x" name: never written outside the cache
    if target.is_file() and target.stat().st_size == member.file_size:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with bundle.open(member) as source, partial.open("wb") as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
