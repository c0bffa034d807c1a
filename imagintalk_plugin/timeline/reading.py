"""Read any timeline file OpenTimelineIO and its adapter plugins read, or say clearly why not.

`read_timeline` returns a `LoadedTimeline`: the OTIO timeline plus what the adapters leave
vague, settled once here: its exact frame rate, its start timecode, whether that timecode is
drop-frame, and where relative media links point (made absolute, see `media_paths`). Any
failure becomes a `TimelineReadError` naming the file and the reason; the adapters' own
crashes on bad input (AttributeError, KeyError, ...) are caught here, at the one place that
calls them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime

from imagintalk_plugin.core.errors import TimelineReadError, UnsupportedTimelineFormatError
from imagintalk_plugin.timeline import edl, legacy_schema, timeline_facts
from imagintalk_plugin.timeline.bundles import unpack_otioz_media
from imagintalk_plugin.timeline.formats import (
    FORMATS,
    SUPPORTED_SUFFIXES,
    format_label,
    sniff_format,
)
from imagintalk_plugin.timeline.media_paths import rebase_media
from imagintalk_plugin.timeline.timecode import exact_rate, frames_time, rate_float

_HEAD_BYTES = 4096


@dataclass(frozen=True)
class LoadedTimeline:
    """A timeline read from a file, with its rate, start and timecode mode settled."""

    path: Path
    format: str  # a key of formats.FORMATS
    timeline: otio.schema.Timeline
    rate: Fraction  # exact, e.g. 24000/1001
    start: RationalTime  # the start timecode as a time at `rate`
    drop_frame: bool
    notes: tuple[str, ...] = ()
    reel_sources: dict[str, str] = field(default_factory=dict)  # EDL reel -> absolute file

    @property
    def fps(self) -> float:
        """The rate as the double OTIO uses."""
        return float(self.rate)


@contextlib.contextmanager
def _quiet_adapters() -> Iterator[None]:
    """Adapters print and log chatter (the AAF reader prints to stdout); keep it off ours."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def read_timeline(
    path: str | Path, *, rate: float | None = None, timeline_index: int = 0
) -> LoadedTimeline:
    """Read a timeline file of any supported format.

    `rate` overrides the frame rate of formats that do not state one (EDL); `timeline_index`
    picks a timeline from files that hold several (FCPXML libraries, multi-sequence AAF).
    """
    path = Path(path)
    head = _read_head(path)
    key = sniff_format(path, head)
    if key is None:
        raise UnsupportedTimelineFormatError(path, _unsupported_reason(path))
    notes: list[str] = []
    reels: dict[str, str] = {}
    edl_reading: edl.EdlReading | None = None
    try:
        with _quiet_adapters():
            if key == "cmx_3600":
                given = exact_rate(rate) if rate else None
                edl_reading = edl.read_edl(path.read_bytes(), given)
                result: otio.core.SerializableObject = edl_reading.timeline
                notes += edl_reading.notes
                reels = edl_reading.reel_sources
            else:
                result = _read_with_adapter(path, key, notes)
    except TimelineReadError:
        raise
    except Exception as err:  # the adapters' own failures on bad input, whatever their type
        reason = _describe(err)
        if key == "aaf" and reason.startswith("the reader failed"):
            reason = f"damaged or not a real AAF file ({reason.partition('(')[2].rstrip(')')})"
        raise TimelineReadError(path, f"{format_label(key)}: {reason}") from err
    timeline = _pick_timeline(path, result, timeline_index, notes)
    reels = rebase_media(timeline, _media_base(path, key, notes), reels)
    if edl_reading is not None:
        fps, drop = edl_reading.rate, edl_reading.drop_frame
    else:
        fps = exact_rate(rate) if rate else timeline_facts.timeline_rate(timeline)
        drop = timeline_facts.drop_frame(path, key, timeline, fps)
    if edl_reading is not None:
        start = frames_time(edl_reading.start_frame, fps)
    else:
        start = timeline_facts.start_time(path, key, timeline, fps)
    return LoadedTimeline(
        path=path,
        format=key,
        timeline=timeline,
        rate=fps,
        start=start,
        drop_frame=drop,
        notes=tuple(notes),
        reel_sources=reels,
    )


def _media_base(path: Path, key: str, notes: list[str]) -> Path:
    """The folder a timeline's relative media links are relative to."""
    if key == "otiod":
        return path
    if key == "otioz":
        folder = unpack_otioz_media(path)
        if folder.is_dir():
            notes.append(f"media of the bundle unpacked into {folder}")
        return folder
    return path.parent


def _unsupported_reason(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "JSON that is not OpenTimelineIO"
    if suffix == ".xml":
        return "XML that is neither Final Cut Pro 7 XML (xmeml) nor FCPXML"
    return f"not a timeline format ImaginTalk reads (supported: {', '.join(SUPPORTED_SUFFIXES)})"


def _read_head(path: Path) -> bytes:
    if path.is_dir():
        return b""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except FileNotFoundError:
        raise TimelineReadError(path, "file not found") from None
    except PermissionError:
        raise TimelineReadError(path, "permission denied") from None
    except OSError as err:
        raise TimelineReadError(path, err.strerror or str(err)) from None
    if not head.strip():
        raise TimelineReadError(path, "the file is empty")
    return head


def _read_with_adapter(path: Path, key: str, notes: list[str]) -> otio.core.SerializableObject:
    adapter = FORMATS[key][1]
    if key != "otio_json":
        return otio.adapters.read_from_file(str(path), adapter_name=adapter)
    text = path.read_text(encoding="utf-8-sig")
    try:
        return otio.adapters.read_from_string(text, adapter_name="otio_json")
    except otio.exceptions.UnsupportedSchemaError:
        result, extra = legacy_schema.read_newer_otio_json(text)
        notes += extra
        return result


def _describe(err: Exception) -> str:
    """A one-line reason for an adapter failure."""
    if isinstance(err, json.JSONDecodeError):
        return f"truncated or malformed JSON (line {err.lineno}, column {err.colno})"
    if isinstance(err, ET.ParseError):
        return f"truncated or malformed XML ({err})"
    if isinstance(err, otio.exceptions.UnsupportedSchemaError):
        return f"written with an OpenTimelineIO schema this version cannot read ({err})"
    if isinstance(err, UnicodeDecodeError):
        return "not a text file in a known encoding"
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    name = type(err).__name__
    if "JSON parse error" in message:
        return f"truncated or malformed JSON: {message.rpartition('input string: ')[2]}"
    if name == "EDLParseError" or isinstance(err, otio.exceptions.OTIOError):
        return message or name
    return f"the reader failed on this file ({name}: {message})" if message else name


def _pick_timeline(
    path: Path, result: otio.core.SerializableObject, index: int, notes: list[str]
) -> otio.schema.Timeline:
    """The timeline to work on: the file's own, one from a collection, or a bare clip wrapped."""
    if isinstance(result, otio.schema.Timeline):
        return result
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = list(_timelines_in(result))
        if not timelines:
            raise TimelineReadError(
                path, f"holds no timeline, only a bin of {len(result)} item(s); export a sequence"
            )
        if not 0 <= index < len(timelines):
            raise TimelineReadError(path, f"has {len(timelines)} timeline(s); no index {index}")
        if len(timelines) > 1:
            names = ", ".join(f"{i}: {t.name or 'untitled'}" for i, t in enumerate(timelines))
            notes.append(f"file holds {len(timelines)} timelines ({names}); reading {index}")
        return timelines[index]
    if isinstance(result, (otio.schema.Clip, otio.schema.Track, otio.schema.Stack)):
        return _wrap(result)
    raise TimelineReadError(path, f"holds a {type(result).__name__}, not a timeline")


def _timelines_in(collection: otio.schema.SerializableCollection) -> Iterator[otio.schema.Timeline]:
    for child in collection:
        if isinstance(child, otio.schema.Timeline):
            yield child
        elif isinstance(child, otio.schema.SerializableCollection):
            yield from _timelines_in(child)


def _wrap(item: otio.core.Composable) -> otio.schema.Timeline:
    """A one-clip (or one-track) export as a timeline starting at the item's first frame."""
    timeline = otio.schema.Timeline(name=item.name)
    if isinstance(item, otio.schema.Stack):
        timeline.tracks = item.deepcopy()
        return timeline
    if isinstance(item, otio.schema.Track):
        timeline.tracks.append(item.deepcopy())
        return timeline
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(item.deepcopy())
    timeline.tracks.append(track)
    fps = rate_float(item.trimmed_range().duration.rate)
    timeline.global_start_time = frames_time(0, fps)
    return timeline
