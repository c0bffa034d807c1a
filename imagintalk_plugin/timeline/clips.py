"""From a loaded timeline to the list of dubbable clips (`ClipRef`), frame-exact.

A dubbable clip is an enabled video clip whose media is a picture (file or image sequence);
missing media is listed as offline, generators (black, bars) are not listed. Nested stacks are
flattened as the viewer sees them (top track wins) and their trims and speed applied; linear
speed and freeze-frame effects are folded into the source range and reported; transitions are
reported on the clips they touch. Record frames count from the timeline's first frame.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.timeline.clip_lines import clip_line
from imagintalk_plugin.timeline.media_paths import media_location
from imagintalk_plugin.timeline.reading import LoadedTimeline
from imagintalk_plugin.timeline.timecode import exact_rate, frames_time, rate_float, to_frames

ToRecord = Callable[[RationalTime], RationalTime]


@dataclass
class _Segment:
    """A visible stretch of one clip, mapped to the top-level track."""

    clip: otio.schema.Clip
    record_start: RationalTime
    record_end: RationalTime
    source_start: RationalTime  # media time at the first visible frame
    time_scalar: float
    notes: list[str]


def list_clips(loaded: LoadedTimeline) -> list[ClipRef]:
    """The dubbable clips of a timeline, in track order then record order."""
    refs: list[ClipRef] = []
    for track_index, track in enumerate(_video_tracks(loaded.timeline), start=1):
        if not track.enabled:
            continue
        ordinal = 0
        for segment in _collect(track, None, lambda t: t, 1.0):
            ref = _make_ref(loaded, track, track_index, ordinal + 1, segment)
            if ref is None or ref.duration_frames <= 0:
                continue
            ordinal += 1
            refs.append(ref)
    return refs


def _video_tracks(timeline: otio.schema.Timeline) -> list[otio.schema.Track]:
    return [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]


def _speed(item: otio.core.Item) -> tuple[float, list[str]]:
    """An item's linear speed (1 normal, 0 freeze) and notes on effects it cannot model."""
    scalar, notes = 1.0, []
    for effect in item.effects:
        if isinstance(effect, otio.schema.FreezeFrame):
            scalar = 0.0
            notes.append("freeze frame: the picture does not move, lips cannot be read")
        elif isinstance(effect, otio.schema.LinearTimeWarp):
            scalar *= effect.time_scalar
            notes.append(f"speed effect {effect.time_scalar * 100:g}%")
        elif isinstance(effect, otio.schema.TimeEffect):
            notes.append(f"time effect '{effect.effect_name or effect.name}' not modelled")
    if scalar < 0:
        notes.append("reverse playback: lips run backwards")
    return scalar, notes


def _collect(
    track: otio.schema.Track,
    window: TimeRange | None,
    to_record: ToRecord,
    outer_scalar: float,
) -> Iterator[_Segment]:
    """Visible clip segments of `track` within `window` (track time), mapped by `to_record`."""
    children = list(track)
    for index, child in enumerate(children):
        if not getattr(child, "enabled", True) or isinstance(
            child, (otio.schema.Gap, otio.schema.Transition)
        ):
            continue
        placed = child.range_in_parent()
        visible = placed if window is None else _intersect(placed, window)
        if visible is None:
            continue
        start, end = visible.start_time, visible.end_time_exclusive()
        scalar, notes = _speed(child)
        if isinstance(child, otio.schema.Clip):
            notes += _transition_notes(children, index)
            into = _scale(start - placed.start_time, abs(scalar))
            yield _Segment(
                clip=child,
                record_start=to_record(start),
                record_end=to_record(end),
                source_start=child.trimmed_range().start_time + into,
                time_scalar=scalar * outer_scalar,
                notes=notes,
            )
        elif isinstance(child, (otio.schema.Stack, otio.schema.Track)):
            yield from _collect_nested(child, placed, start, end, to_record, scalar, outer_scalar)


def _collect_nested(
    child: otio.schema.Stack | otio.schema.Track,
    placed: TimeRange,
    start: RationalTime,
    end: RationalTime,
    to_record: ToRecord,
    scalar: float,
    outer_scalar: float,
) -> Iterator[_Segment]:
    """Clips inside a nested stack or track, with its trim and speed applied."""
    inner = child.trimmed_range()
    step = scalar if scalar != 0 else 1.0  # a frozen container still lays out its first clip
    inner_start = inner.start_time + _scale(start - placed.start_time, step)
    inner_window = TimeRange(inner_start, _scale(end - start, step))

    def inner_to_record(t: RationalTime) -> RationalTime:
        return to_record(start + _scale(t - inner_start, 1.0 / step))

    flat = _flatten(child) if isinstance(child, otio.schema.Stack) else child
    for segment in _collect(flat, inner_window, inner_to_record, scalar * outer_scalar):
        segment.notes.append(f"inside nested '{child.name or type(child).__name__}'")
        yield segment


def _flatten(stack: otio.schema.Stack) -> otio.schema.Track:
    """A stack as the viewer sees it: one track, upper layers over lower ones.

    Layers that are bare items (a clip directly in a stack) become one-item tracks first,
    since OTIO's flatten_stack takes tracks only.
    """
    layers = []
    for layer in stack:
        if isinstance(layer, otio.schema.Track):
            layers.append(layer.deepcopy())
        else:
            wrapped = otio.schema.Track(kind=otio.schema.TrackKind.Video)
            wrapped.append(layer.deepcopy())
            layers.append(wrapped)
    return otio.algorithms.flatten_stack(layers)


def _scale(time: RationalTime, factor: float) -> RationalTime:
    return RationalTime(time.value * factor, time.rate)


def _intersect(a: TimeRange, b: TimeRange) -> TimeRange | None:
    start = max(a.start_time, b.start_time)
    end = min(a.end_time_exclusive(), b.end_time_exclusive())
    if end <= start:
        return None
    return otio.opentime.range_from_start_end_time(start, end)


def _transition_notes(children: list[otio.core.Composable], index: int) -> list[str]:
    notes = []
    if index > 0 and isinstance(children[index - 1], otio.schema.Transition):
        notes.append(f"transition in ({_frames_of(children[index - 1])} frames)")
    if index + 1 < len(children) and isinstance(children[index + 1], otio.schema.Transition):
        notes.append(f"transition out ({_frames_of(children[index + 1])} frames)")
    return notes


def _frames_of(transition: otio.schema.Transition) -> int:
    total = transition.in_offset + transition.out_offset
    return round(total.value)


def _make_ref(
    loaded: LoadedTimeline,
    track: otio.schema.Track,
    track_index: int,
    ordinal: int,
    segment: _Segment,
) -> ClipRef | None:
    clip = segment.clip
    reference = clip.media_reference
    if isinstance(reference, otio.schema.GeneratorReference):
        return None  # black, bars, titles: nothing to dub
    fps = loaded.rate
    first = to_frames(segment.record_start, fps)
    last = to_frames(segment.record_end, fps)
    record = TimeRange(frames_time(first, fps), frames_time(last - first, fps))
    media_fps = _media_rate(clip)
    scalar = segment.time_scalar
    media_frames = max(1, round((last - first) * abs(scalar) * float(exact_rate(media_fps)) / fps))
    source_start = segment.source_start.rescaled_to(rate_float(media_fps))
    source = TimeRange(
        RationalTime(round(source_start.value), rate_float(media_fps)),
        RationalTime(media_frames, rate_float(media_fps)),
    )
    path, offline, why = media_location(clip, loaded.path.parent, loaded.reel_sources)
    notes = list(dict.fromkeys([*segment.notes, *([why] if why else [])]))
    available = reference.available_range if reference is not None else None
    return ClipRef(
        clip_id=f"V{track_index}-{ordinal:03d}",
        name=clip.name or (Path(path).stem if path else f"V{track_index}-{ordinal:03d}"),
        track_name=track.name or f"V{track_index}",
        track_index=track_index,
        record_range=record,
        source_range=source,
        timeline_fps=float(fps),
        timeline_start=loaded.start,
        drop_frame=loaded.drop_frame,
        media_path=path,
        media_fps=rate_float(media_fps),
        available_range=available,
        offline=offline,
        speaker=_speaker(clip, track.name),
        time_scalar=scalar,
        notes=tuple(notes),
        metadata=_metadata(clip),
    )


def _media_rate(clip: otio.schema.Clip) -> float:
    reference = clip.media_reference
    if reference is not None and reference.available_range is not None:
        rate = reference.available_range.duration.rate
        if rate > 0:
            return rate
    return clip.trimmed_range().duration.rate


def _metadata(clip: otio.schema.Clip) -> dict[str, str]:
    """The clip's name, and the known line it carries (`clip_lines`), if any."""
    line = clip_line(clip)
    return {"otio_clip_name": clip.name} | ({"line": line} if line else {})


_GENERIC_TRACK = re.compile(r"^\s*(v|video|video track|track|channel)?\s*\d*\s*$", re.IGNORECASE)


def _speaker(clip: otio.schema.Clip, track_name: str) -> str | None:
    """The clip's speaker label: `metadata["imagintalk"]["speaker"]`, else the name of its
    track when an editor named it ("ALICE"; not a default such as "V1", "Video 2" or Blender's
    "Channel 3")."""
    ours = clip.metadata.get("imagintalk")
    speaker = ours.get("speaker") if hasattr(ours, "get") else None
    if speaker:
        return str(speaker)
    name = (track_name or "").strip()
    return name if name and not _GENERIC_TRACK.match(name) else None
