"""Where a clip's media is on this machine, and making a read timeline's media links absolute.

Interchange files name media by absolute file URLs (FCP7 XML, AAF), by paths relative to the
timeline file (OTIO written by hand or by tools, the demo), by Windows paths from another
machine, or not at all (EDL events, whose `>>> SOURCE` table may name the file per reel).
`rebase_media` settles what a relative link means once, at read time: relative to the
timeline file's folder (the bundle's own folder for .otiod, the unpacked media for .otioz), and
writes it back as an absolute file URL. So every writer (dub, `timeline place`, the panel, host
bridges) writes links that still work from any folder, without knowing where the input was.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import opentimelineio as otio

_WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")


def file_url(path: str | Path) -> str:
    """An absolute, normalised file URL for a local path (symlinks kept, not resolved)."""
    return Path(os.path.normpath(Path(path).absolute())).as_uri()


def file_name(url: str | None) -> str:
    """The last component of a media URL or path, POSIX or Windows ("" when there is none)."""
    if not url:
        return ""
    parsed = urlparse(url)
    raw = unquote(parsed.path) if parsed.scheme == "file" else url
    return PurePosixPath(raw.replace("\\", "/")).name


def local_path(url: str | None, base: Path) -> tuple[str | None, bool, str]:
    """(path or URL, offline?, why) for a media URL or path; relative ones against `base`."""
    if not url:
        return None, True, "no media linked"
    parsed = urlparse(url)
    if len(parsed.scheme) > 1 and parsed.scheme != "file":
        return url, True, f"remote media ({parsed.scheme}) cannot be read"
    if parsed.scheme == "file":
        raw = unquote(parsed.path)
        if parsed.netloc and parsed.netloc != "localhost":
            raw = f"//{parsed.netloc}{raw}"
        if len(raw) > 2 and raw[0] == "/" and raw[2] == ":":  # /C:/Users/... on Windows
            raw = raw[1:]
    else:
        raw = url
    path = Path(raw)
    if not path.is_absolute() and not (len(raw) > 1 and raw[1] == ":"):
        path = base / path
    exists = path.exists()
    return str(path), not exists, "" if exists else "media file not found"


def _relative_local(url: str | None) -> str | None:
    """The path of a relative local media link, None for absolute, remote or empty ones."""
    if not url:
        return None
    parsed = urlparse(url)
    if len(parsed.scheme) > 1 and parsed.scheme != "file":
        return None
    if parsed.scheme == "file":
        if parsed.netloc:  # file://host/... or file://localhost/...: absolute
            return None
        raw = unquote(parsed.path)
    else:
        raw = url
    if not raw or raw.startswith("/") or _WINDOWS_ABSOLUTE.match(raw):
        return None
    if len(raw) > 1 and raw[1] == ":":  # "C:relative" is Windows too; not ours to guess
        return None
    return raw.replace("\\", "/")


def rebased_url(url: str | None, base: Path) -> str | None:
    """`url` as an absolute file URL when it is a relative local link, else unchanged."""
    relative = _relative_local(url)
    return url if relative is None else file_url(base / relative)


def rebase_media(
    timeline: otio.schema.Timeline, base: Path, reel_sources: dict[str, str]
) -> dict[str, str]:
    """Make the timeline's relative media links absolute against `base`, in place.

    Rebases every clip's media references (ExternalReference `target_url`,
    ImageSequenceReference `target_url_base`) and the EDL reel table's files; a clip with no
    media whose EDL reel the table names gets an ExternalReference to that file, so writers
    keep the link. Returns the rebased reel table.
    """
    reels = {reel: _rebased_path(source, base) for reel, source in reel_sources.items()}
    for clip in timeline.find_clips():
        for reference in clip.media_references().values():
            _rebase_reference(reference, base)
        reel = str(clip.metadata.get("cmx_3600", {}).get("reel", ""))
        if reel in reels and _unlinked(clip.media_reference):
            reference = otio.schema.ExternalReference(target_url=file_url(reels[reel]))
            reference.name = file_name(reels[reel])
            clip.media_reference = reference
    return reels


def _unlinked(reference: otio.core.MediaReference | None) -> bool:
    return reference is None or isinstance(reference, otio.schema.MissingReference)


def _rebase_reference(reference: otio.core.MediaReference, base: Path) -> None:
    if isinstance(reference, otio.schema.ExternalReference):
        new = rebased_url(reference.target_url, base)
        if new != reference.target_url:
            reference.target_url = new
    elif isinstance(reference, otio.schema.ImageSequenceReference):
        new = rebased_url(reference.target_url_base, base)
        if new != reference.target_url_base:
            reference.target_url_base = new.rstrip("/") + "/"


def _rebased_path(source: str, base: Path) -> str:
    relative = _relative_local(source)
    return source if relative is None else os.path.normpath(base.absolute() / relative)


def media_location(
    clip: otio.schema.Clip, base: Path, reel_sources: dict[str, str]
) -> tuple[str | None, bool, str]:
    """(path or URL, offline?, note) for a clip's picture: its file, its image sequence's
    first image, or the file an EDL reel table names for its reel."""
    reference = clip.media_reference
    if isinstance(reference, otio.schema.ExternalReference):
        return local_path(reference.target_url, base)
    if isinstance(reference, otio.schema.ImageSequenceReference):
        folder, _, why = local_path(reference.target_url_base, base)
        if folder is None:
            return None, True, why
        pattern = f"{reference.name_prefix}%0{reference.frame_zero_padding}d{reference.name_suffix}"
        first = Path(folder) / first_image_name(reference)
        online = first.exists()
        return str(Path(folder) / pattern), not online, "" if online else "first image not found"
    reel = str(clip.metadata.get("cmx_3600", {}).get("reel", ""))
    if reel in reel_sources:
        return local_path(reel_sources[reel], base)
    return None, True, "no media linked"


def first_image_name(reference: otio.schema.ImageSequenceReference) -> str:
    """The file name of an image sequence's first image."""
    number = f"{reference.start_frame:0{reference.frame_zero_padding}d}"
    return f"{reference.name_prefix}{number}{reference.name_suffix}"
