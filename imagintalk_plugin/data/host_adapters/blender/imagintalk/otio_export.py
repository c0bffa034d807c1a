"""The sequencer's movie strips as an OpenTimelineIO JSON file, written with the standard library.

Shape (what `opentimelineio` 0.15+ writes and reads): a Timeline.1 at the scene's rate
(`render.fps / render.fps_base`) whose `global_start_time` is `scene.frame_start`; one Video
Track.1 per used channel, bottom to top like the sequencer, named after the channel; Gap.1 between
strips; one Clip.2 per movie strip with an ExternalReference.1 to the movie.

Time mapping, per strip (all sequencer values in scene frames unless said):
- record: `frame_final_start - scene.frame_start` for `frame_final_duration` frames; a strip that
  starts before the scene's first frame is cut there, one wholly before it is left out.
- source: the media frame shown at the first visible frame, at the movie's own rate
  (`strip.fps`): `hold offset + (frame_final_start - frame_start) * factor`, where
  `factor` is media frames per scene frame. Strips added from the UI play at their real speed
  (factor = movie fps / scene fps); strips added by scripts (`new_movie`) play one movie frame per
  scene frame (factor 1), which is a speed change, written as a LinearTimeWarp.1 effect. Blender
  does not expose which of the two a strip does, so `playback_factors` finds out by changing the
  scene's `fps_base` for a moment (restored at once; nothing is redrawn in between).
- The source range's duration is written at the scene's rate (the strip's exact length on the
  timeline) and its start at the movie's rate, so record positions add up exactly even when the
  two rates differ.
Meta strips, muted strips and muted channels are left out; so are speed keys (retiming) and
reverse playback, which are not modelled (the clip's notes say so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from . import compat
from . import imagintalk_otio as otio_json

_NTSC = (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001))
_RATE_SNAP = 0.002


class ExportError(Exception):
    """Nothing to export (no sequencer, no movie strips, nothing selected)."""


@dataclass(frozen=True)
class ExportResult:
    """What was written: the file, the strips in it (by name), and what was left out and why."""

    path: Path
    strips: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    notes: dict[str, list[str]] = field(default_factory=dict)


def scene_rate(scene: Any) -> float:
    """The scene's frame rate as a float (24000/1001 for 23.976)."""
    return float(exact_rate(scene.render.fps / scene.render.fps_base))


def exact_rate(fps: float) -> Fraction:
    """A rate as an exact fraction, snapping near-NTSC values (23.976... -> 24000/1001)."""
    for rate in _NTSC:
        if abs(float(rate) - fps) < _RATE_SNAP:
            return rate
    return Fraction(fps).limit_denominator(1001)


def movie_strips(seq_editor: Any, selected_only: bool) -> tuple[list[Any], list[str]]:
    """Top-level, unmuted movie strips (selected ones when asked), and why others were skipped."""
    strips, skipped = [], []
    for strip in compat.top_strips(seq_editor):
        if strip.type != "MOVIE" or (selected_only and not strip.select):
            continue
        if strip.mute or compat.channel_muted(seq_editor, strip.channel):
            skipped.append(f"{strip.name}: muted")
            continue
        strips.append(strip)
    return strips, skipped


def playback_factors(scene: Any, strips: Sequence[Any]) -> dict[str, float]:
    """Media frames per scene frame for each strip whose movie rate differs from the scene's."""
    rate = scene_rate(scene)
    other = [s for s in strips if s.fps > 0 and abs(float(exact_rate(s.fps)) - rate) > _RATE_SNAP]
    if not other:
        return {}
    before = {s.name: s.frame_duration for s in other}
    base = scene.render.fps_base
    try:
        scene.render.fps_base = base * 2.0
        after = {s.name: s.frame_duration for s in other}
    finally:
        scene.render.fps_base = base
    return {
        s.name: float(exact_rate(s.fps)) / rate if after[s.name] != before[s.name] else 1.0
        for s in other
    }


def export_timeline(
    scene: Any, path: Path, selected_only: bool, abspath: Any = str
) -> ExportResult:
    """Write the scene's movie strips to `path` (an .otio file); `abspath` turns a strip's
    `filepath` into an absolute path (pass `bpy.path.abspath` inside Blender)."""
    seq_editor = compat.editor(scene)
    if seq_editor is None:
        raise ExportError("this scene has no sequencer strips")
    strips, skipped = movie_strips(seq_editor, selected_only)
    if not strips:
        what = "selected movie strips" if selected_only else "movie strips"
        raise ExportError(f"no {what} in scene '{scene.name}'" + _why(skipped))
    factors = playback_factors(scene, strips)
    rate = scene_rate(scene)
    start = int(scene.frame_start)
    by_channel: dict[int, list[dict[str, Any]]] = {}
    notes: dict[str, list[str]] = {}
    for strip in strips:
        clip = _clip(strip, rate, start, factors.get(strip.name, 1.0), abspath)
        if clip is None:
            skipped.append(f"{strip.name}: before the scene's first frame")
            continue
        by_channel.setdefault(strip.channel, []).append(clip)
        notes[strip.name] = clip["metadata"]["imagintalk"]["notes"]
    if not by_channel:
        raise ExportError("every movie strip lies before the scene's first frame" + _why(skipped))
    tracks = [
        _track(compat.channel_name(seq_editor, channel), channel, by_channel[channel], rate)
        for channel in sorted(by_channel)
    ]
    metadata = {"imagintalk": {"host": "blender", "scene": scene.name}}
    path = Path(path)
    otio_json.write(otio_json.timeline(scene.name, start, rate, tracks, metadata), path)
    names = tuple(c["name"] for channel in sorted(by_channel) for c in by_channel[channel])
    return ExportResult(path=path, strips=names, skipped=tuple(skipped), notes=notes)


def _why(skipped: list[str]) -> str:
    return f" ({'; '.join(skipped)})" if skipped else ""


def _clip(
    strip: Any, rate: float, start: int, factor: float, abspath: Any
) -> dict[str, Any] | None:
    """One strip as a Clip.2 dict with its record frame under `_record` (None: not on screen)."""
    left, right = int(strip.frame_final_start), int(strip.frame_final_end)
    notes: list[str] = []
    if right <= start:
        return None
    if left < start:
        notes.append(f"starts before the scene's first frame: cut at frame {start}")
        left = start
    media_rate = float(exact_rate(strip.fps)) if strip.fps > 0 else rate
    trim_start, trim_end = compat.content_trim(strip)
    media_first = trim_start + (left - strip.frame_start) * factor
    if len(getattr(strip, "retiming_keys", ())) > 0:
        notes.append("has speed keys (retiming): speed changes are not modelled")
    if getattr(strip, "use_reverse_frames", False):
        notes.append("reverse playback is not modelled")
    content = round(strip.frame_duration * factor)  # approximate when factor is not 1
    total = content + trim_start + trim_end
    available = otio_json.time_range(0, total, media_rate)
    url = Path(abspath(strip.filepath)).resolve().as_uri()
    media = otio_json.media_reference(url, available, media_rate)
    media["name"] = Path(strip.filepath).name  # as typed, not percent-encoded like the URL
    source = otio_json.time_range(media_first, right - left, rate, start_rate=media_rate)
    clip = otio_json.clip(strip.name, source, media)
    clip["metadata"] = {
        "imagintalk": {"blender_strip": strip.name, "channel": strip.channel, "notes": notes}
    }
    if factor == 1.0 and abs(media_rate - rate) > _RATE_SNAP:
        # one movie frame per scene frame: the movie runs at scene/movie speed
        clip["effects"] = [otio_json.time_warp(rate / media_rate)]
    clip["_record"] = left - start
    return clip


def _track(name: str, channel: int, clips: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    """A Video track: the channel's clips in record order with gaps between them."""
    children: list[dict[str, Any]] = []
    cursor = 0
    for clip in sorted(clips, key=lambda c: c["_record"]):
        record = clip.pop("_record")
        if record > cursor:
            children.append(otio_json.gap(record - cursor, rate))
        children.append(clip)
        cursor = record + round(clip["source_range"]["duration"]["value"])
    track = otio_json.track(name, "Video", children)
    track["metadata"] = {"imagintalk": {"blender_channel": channel}}
    return track
