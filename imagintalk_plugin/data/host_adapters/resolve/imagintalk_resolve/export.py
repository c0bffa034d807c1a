"""The current timeline as an OpenTimelineIO file the panel reads.

First choice: Resolve's own exporter, `Timeline.Export(path, resolve.EXPORT_OTIO,
resolve.EXPORT_NONE)` (README, "Looking up timeline export properties"; `EXPORT_OTIO` exists from
18.5). When the constant is missing or the export fails (returns False, writes nothing), the
timeline is walked through the API instead and written with the standard library:

- the timeline: `GetName`, `GetStartFrame` (its first frame, e.g. 86400 for 01:00:00:00 at 24
  fps, becomes `global_start_time`) and `GetSetting("timelineFrameRate")` ("23.976",
  "29.97 DF"; drop-frame is kept in `metadata["imagintalk"]["drop_frame"]`);
- video tracks 1..`GetTrackCount("video")`: `GetTrackName`, `GetIsTrackEnabled`, and
  `GetItemListInTrack("video", i)`;
- each item: `GetStart`/`GetEnd` (absolute frames, end exclusive), `GetLeftOffset` (the
  frames of media before the cut: the source in-point), `GetName`, `GetClipEnabled`, and its
  `GetMediaPoolItem()`'s clip properties "File Path", "FPS" and "Frames".

What the walk cannot see: speed changes and other effects (Resolve's export carries them), so
source ranges of retimed clips are the record lengths; media time counts from the file's first
frame, not from its embedded timecode. Record ranges, which placement depends on, are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from . import imagintalk_otio as otio_json
from .calls import call
from .errors import BridgeError
from .rates import is_drop_frame, parse_rate


@dataclass(frozen=True)
class Export:
    """Where the timeline was written, and how ("resolve" exporter or "walk")."""

    path: Path
    method: str
    note: str = ""


def export_timeline(resolve: Any, timeline: Any, path: Path) -> Export:
    """Write `timeline` to `path` as OTIO JSON: Resolve's exporter, else the walk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = getattr(resolve, "EXPORT_OTIO", None)
    if isinstance(kind, int) and not isinstance(kind, bool):
        if path.exists():
            path.unlink()  # so a stale file is never taken for a fresh export
        subtype = getattr(resolve, "EXPORT_NONE", None)
        args = (str(path), kind) if subtype is None else (str(path), kind, subtype)
        if timeline.Export(*args) and path.is_file() and path.stat().st_size > 0:
            return Export(path, "resolve")
        note = "Resolve's OTIO export failed; the timeline was read through the scripting API"
    else:
        note = "this Resolve has no OTIO export; the timeline was read through the scripting API"
    otio_json.write(walk_timeline(timeline), path)
    return Export(path, "walk", note)


def timeline_rate(timeline: Any) -> Fraction:
    """The timeline's exact frame rate, from `GetSetting("timelineFrameRate")`."""
    text = call(timeline, "GetSetting", "timelineFrameRate")
    rate = parse_rate(text)
    if rate is None:
        raise BridgeError(f"cannot read the frame rate of timeline '{timeline.GetName()}'")
    return rate


def walk_timeline(timeline: Any) -> otio_json.Json:
    """The timeline's video tracks as an OTIO `Timeline.1` document."""
    rate = timeline_rate(timeline)
    start = int(timeline.GetStartFrame())
    tracks = []
    for index in range(1, int(timeline.GetTrackCount("video") or 0) + 1):
        name = call(timeline, "GetTrackName", "video", index) or f"Video {index}"
        enabled = call(timeline, "GetIsTrackEnabled", "video", index)
        items = timeline.GetItemListInTrack("video", index) or []
        children = _track_children(items, start, rate)
        tracks.append(otio_json.track(str(name), "Video", children, enabled is not False))
    drop = is_drop_frame(call(timeline, "GetSetting", "timelineFrameRate"))
    metadata = {"imagintalk": {"drop_frame": drop, "exported_by": "imagintalk_resolve walk"}}
    return otio_json.timeline(str(timeline.GetName()), start, rate, tracks, metadata)


def _track_children(items: list[Any], start: int, rate: Fraction) -> list[otio_json.Json]:
    """Gaps and clips of one track, in record order, from its first frame."""
    children: list[otio_json.Json] = []
    cursor = 0
    for item in sorted(items, key=lambda i: int(i.GetStart())):
        first, end = int(item.GetStart()) - start, int(item.GetEnd()) - start
        if end <= first or first < cursor:
            continue  # empty, or overlapping the clip before (a track never holds both)
        if first > cursor:
            children.append(otio_json.gap(first - cursor, rate))
        children.append(_clip(item, end - first, rate))
        cursor = end
    return children


def _clip(item: Any, frames: int, rate: Fraction) -> otio_json.Json:
    """One timeline item as a clip; its source range is at the timeline's rate (so the track
    lays out exactly), its media's available range at the media's own rate."""
    media = call(item, "GetMediaPoolItem")
    path = str(call(media, "GetClipProperty", "File Path") or "")
    media_rate = parse_rate(call(media, "GetClipProperty", "FPS")) or rate
    left = int(call(item, "GetLeftOffset") or 0)
    available = None
    total = _int(call(media, "GetClipProperty", "Frames"))
    if total:
        available = otio_json.time_range(0, total, media_rate)
    if media is None:  # a title or generator: no media, nothing to dub
        reference = otio_json.generator_reference(str(item.GetName() or ""), available)
    else:  # an empty path (a compound clip) reads as offline
        reference = otio_json.media_reference(path, available, media_rate)
    enabled = call(item, "GetClipEnabled")
    name = str(item.GetName() or "")
    source = otio_json.time_range(left, frames, rate)
    return otio_json.clip(name, source, reference, enabled is not False)


def _int(text: object) -> int:
    try:
        return int(float(str(text)))
    except ValueError:
        return 0
