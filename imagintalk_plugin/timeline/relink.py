"""Relink offline clips to media found in some folders (`--media-dir`).

EDLs and AAFs arrive naming reels, or paths on the editor's machine (`S:\\path\\to\\A001.mov`,
`file://VSD/Avid MediaFiles/...`), so on ours every clip lists offline. `relink_timeline`
looks for each offline picture clip's media under the given folders (see `relink_match`: by
the file name of its URL or path, then by its reel or source-file names against file stems,
then by the source timecode a video file's start timecode and length hold) and returns a new
`LoadedTimeline` whose found clips point at the files by absolute file URL, so every writer
keeps them. The input timeline is not modified; online clips and ambiguous matches are left
as they are, and the report says which clips were found, how, and which are still offline.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentimelineio as otio

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.timeline.media_paths import (
    file_name,
    file_url,
    first_image_name,
    media_location,
)
from imagintalk_plugin.timeline.reading import LoadedTimeline
from imagintalk_plugin.timeline.relink_match import MediaIndex, Wanted

METADATA_KEY = "imagintalk"
_REEL_WORDS = ("reel", "tape")  # AAF user comments / FCP fields that carry a reel name
_LISTED = 6  # clips named in a summary line


@dataclass(frozen=True)
class RelinkReport:
    """What `relink_timeline` did: clips found (name, how, new path) and clips still offline."""

    found: tuple[
        tuple[str, str, str], ...
    ]  # (clip name, "file name"|"reel"|"source timecode", path)
    missing: tuple[str, ...]  # clip names still offline
    media_dirs: tuple[str, ...] = ()
    reasons: tuple[tuple[str, str], ...] = ()  # (clip name, why) for ambiguous matches

    def summary(self) -> str:
        """One line for people, e.g. "relinked 5 of 7 offline clip(s) from /media (2 still
        offline: A, B (ambiguous: ...))"."""
        where = ", ".join(self.media_dirs) or "the given folders"
        total = len(self.found) + len(self.missing)
        if total == 0:
            return f"no offline clips to relink from {where}"
        line = f"relinked {len(self.found)} of {total} offline clip(s) from {where}"
        if not self.missing:
            return line
        why = dict(self.reasons)
        unique = list(dict.fromkeys(self.missing))
        names = [f"{name} ({why[name]})" if name in why else name for name in unique[:_LISTED]]
        if len(unique) > _LISTED:
            names.append(f"and {len(unique) - _LISTED} more")
        return f"{line} ({len(self.missing)} still offline: {', '.join(names)})"


def check_media_dirs(media_dirs: Sequence[Path]) -> list[Path]:
    """The folders to relink from, each an existing folder, else `UsageError` (one line):
    callers check them before any long work, `relink_timeline` again when it runs."""
    folders = [Path(d) for d in media_dirs]
    if not folders:
        raise UsageError("no media folder given to relink from")
    for folder in folders:
        if not folder.exists():
            raise UsageError(f"media folder '{folder}' does not exist")
        if not folder.is_dir():
            raise UsageError(f"media folder '{folder}' is not a folder")
    return folders


def relink_timeline(
    loaded: LoadedTimeline, media_dirs: Sequence[Path]
) -> tuple[LoadedTimeline, RelinkReport]:
    """A copy of `loaded` with its offline picture clips linked to files found under
    `media_dirs` (searched recursively), and the report. Raises `UsageError` for a folder that
    does not exist."""
    folders = check_media_dirs(media_dirs)
    timeline = copy.deepcopy(loaded.timeline)
    index: MediaIndex | None = None  # listed only when a clip is offline
    found: list[tuple[str, str, str]] = []
    missing: list[str] = []
    reasons: list[tuple[str, str]] = []
    for clip in _picture_clips(timeline):
        _, offline, _ = media_location(clip, loaded.path.parent, loaded.reel_sources)
        if not offline:
            continue
        index = index or MediaIndex(folders)
        name = _clip_name(clip)
        match = index.match(_wanted(clip))
        if match.path is None:
            missing.append(name)
            if match.reason.startswith("ambiguous"):
                reasons.append((name, match.reason))
            continue
        clip.media_reference = _relinked_reference(clip.media_reference, match.path, match.how)
        found.append((name, match.how, str(match.path)))
    report = RelinkReport(
        found=tuple(found),
        missing=tuple(missing),
        media_dirs=tuple(str(f) for f in folders),
        reasons=tuple(reasons),
    )
    return dataclasses.replace(loaded, timeline=timeline), report


def _picture_clips(timeline: otio.schema.Timeline) -> Iterator[otio.schema.Clip]:
    """Enabled clips on enabled video tracks (nested ones too), generators left out."""
    for track in timeline.tracks:
        if track.kind != otio.schema.TrackKind.Video or not track.enabled:
            continue
        for clip in track.find_clips():
            if clip.enabled and not isinstance(
                clip.media_reference, otio.schema.GeneratorReference
            ):
                yield clip


def _clip_name(clip: otio.schema.Clip) -> str:
    return clip.name or file_name(_url(clip.media_reference)) or "unnamed clip"


def _url(reference: otio.core.MediaReference | None) -> str:
    """The URL or path a reference names, also a missing one's remembered URL."""
    if isinstance(reference, otio.schema.ExternalReference):
        return reference.target_url or ""
    if isinstance(reference, otio.schema.ImageSequenceReference):
        return f"{reference.target_url_base.rstrip('/')}/{first_image_name(reference)}"
    if reference is not None:
        return str(reference.metadata.get("original_target_url", "") or "")
    return ""


def _wanted(clip: otio.schema.Clip) -> Wanted:
    """What the clip and its metadata say about its media."""
    reference = clip.media_reference
    url = _url(reference)
    if isinstance(reference, otio.schema.ImageSequenceReference):
        return Wanted(file_name(url), "", (), None, None)  # found by its first image's name
    try:
        source: otio.opentime.TimeRange | None = clip.trimmed_range()
    except otio.exceptions.OTIOError:
        source = None
    return Wanted(
        file_name=file_name(url),
        reel=str(_dict(clip.metadata.get("cmx_3600")).get("reel") or "").strip(),
        names=_reel_names(clip),
        source_start=source.start_time if source else None,
        source_duration=source.duration if source else None,
    )


def _reel_names(clip: otio.schema.Clip) -> tuple[str, ...]:
    """Names that may be a file's stem: the EDL source file, AAF mob names and tape or reel
    comments, the FCP7 reel, the reference's own name."""
    reference = clip.media_reference
    edl = _dict(clip.metadata.get("cmx_3600"))
    names: list[Any] = []
    for comment in edl.get("comments") or []:
        head, sep, body = str(comment).partition(":")
        if sep and head.strip().upper() in ("SOURCE FILE", "FROM FILE"):
            names.append(body.strip())
    for meta in (clip.metadata, reference.metadata if reference is not None else {}):
        aaf = _dict(meta.get("AAF"))
        names.append(aaf.get("Name"))
        comments = _dict(aaf.get("UserComments"))
        names += [v for k, v in comments.items() if any(w in str(k).lower() for w in _REEL_WORDS)]
        timecode = _dict(_dict(meta.get("fcp_xml")).get("timecode"))
        names.append(_dict(timecode.get("reel")).get("name"))
    if reference is not None:
        names.append(reference.name)
    return tuple(dict.fromkeys(str(n).strip() for n in names if n and str(n).strip()))


def _dict(value: object) -> Mapping[str, Any]:
    """Metadata that should be a dictionary, or an empty one (files write anything)."""
    return value if isinstance(value, Mapping) else {}


def _relinked_reference(
    old: otio.core.MediaReference | None, path: Path, how: str
) -> otio.core.MediaReference:
    """A reference to the found file, keeping the old one's range, name and metadata."""
    provenance = {"relinked_by": how, "relinked_from": _url(old)}
    if isinstance(old, otio.schema.ImageSequenceReference):
        new = copy.deepcopy(old)
        new.target_url_base = file_url(path.parent) + "/"
    else:
        new = otio.schema.ExternalReference(target_url=file_url(path))
        if old is not None:
            new.available_range = old.available_range
            new.metadata.update(copy.deepcopy(dict(old.metadata)))
        new.name = path.name
    new.metadata[METADATA_KEY] = provenance
    return new
