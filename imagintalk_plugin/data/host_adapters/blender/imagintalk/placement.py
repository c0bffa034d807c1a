"""Generated takes as sound strips, frame-exact, on new channels above everything else.

A placement (from the panel, see `imagintalk_link`) is
`{clip_id, clip_name, audio_path, rate, record_start, duration, track_name, take}` with
`record_start` / `duration` in whole frames at `rate`, counted from the timeline's first frame.
Each distinct `track_name` gets new channels above every used channel, named after it
("ImaginTalk Dialogue"); takes that overlap in time (clips stacked on two video channels) go to
further channels of the same track ("ImaginTalk Dialogue 2"), since the sequencer's API would
otherwise let strips overlap on one channel. Blender keeps channel names unique, so placing
again names the new channel "ImaginTalk Dialogue.001". A strip starts at
`scene.frame_start + record_start` and lasts exactly `duration` frames whatever the audio file's
length. A placement that cannot be
made (missing file, another frame rate, no room left) is reported failed with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from . import compat
from .otio_export import exact_rate, scene_rate

CLIP_ID_KEY = "imagintalk_clip_id"  # custom property on the sound strips we make
_REQUIRED = ("clip_id", "audio_path", "rate", "record_start", "duration", "track_name")


def apply_placements(
    scene: Any, placements: Sequence[dict[str, Any]], undo_push: Callable[[str], None] | None = None
) -> dict[str, list[Any]]:
    """Add the takes to `scene`'s sequencer; returns `{placed: [clip_id], failed: [{clip_id,
    reason}]}`. `undo_push(message)` is called once when anything was placed."""
    seq_editor = compat.editor(scene, create=True)
    placed: list[str] = []
    failed: list[dict[str, str]] = []
    valid = []
    for placement in placements:
        if not isinstance(placement, dict):
            failed.append({"clip_id": "?", "reason": "not a placement"})
            continue
        reason = _problem(scene, placement)
        if reason:
            failed.append({"clip_id": str(placement.get("clip_id", "?")), "reason": reason})
        else:
            valid.append(placement)
    channels = _assign_channels(seq_editor, valid)
    for placement in valid:
        channel = channels.get(id(placement))
        if channel is None:
            reason = f"no free channel left (Blender has {compat.MAX_CHANNEL})"
            failed.append({"clip_id": str(placement["clip_id"]), "reason": reason})
            continue
        reason = _add_strip(scene, seq_editor, placement, channel)
        if reason:
            failed.append({"clip_id": str(placement["clip_id"]), "reason": reason})
        else:
            placed.append(str(placement["clip_id"]))
    if placed and undo_push is not None:
        undo_push(f"ImaginTalk: place {len(placed)} take(s)")
    return {"placed": placed, "failed": failed}


def _problem(scene: Any, placement: dict[str, Any]) -> str:
    """Why a placement cannot be made, or '' when it can."""
    missing = [key for key in _REQUIRED if key not in placement]
    if missing:
        return f"placement lacks {', '.join(missing)}"
    try:
        rate = float(placement["rate"])
        start, duration = int(placement["record_start"]), int(placement["duration"])
    except (TypeError, ValueError):
        return "placement has a non-numeric rate, record_start or duration"
    if rate <= 0 or exact_rate(rate) != exact_rate(scene_rate(scene)):
        return f"take is at {rate:g} fps but the scene runs at {scene_rate(scene):g} fps"
    if duration <= 0 or start < 0:
        return f"bad frame range (record_start {start}, duration {duration})"
    path = Path(str(placement["audio_path"]))
    if not path.is_file():
        return f"audio file not found: {path}"
    return ""


def _assign_channels(seq_editor: Any, placements: Iterable[dict[str, Any]]) -> dict[int, int]:
    """A channel for each placement (keyed by `id`): per track, first-fit lanes above all used
    channels; the lanes are named after the track. Placements with no room are left out."""
    used = [strip.channel for strip in compat.top_strips(seq_editor)]
    next_channel = max(used, default=0) + 1
    lanes: dict[str, list[list[tuple[int, int]]]] = {}
    lane_of: dict[int, tuple[str, int]] = {}
    for placement in sorted(placements, key=lambda p: int(p["record_start"])):
        track = str(placement["track_name"])
        start = int(placement["record_start"])
        span = (start, start + int(placement["duration"]))
        track_lanes = lanes.setdefault(track, [])
        for index, lane in enumerate(track_lanes):
            if all(span[0] >= end or span[1] <= begin for begin, end in lane):
                lane.append(span)
                lane_of[id(placement)] = (track, index)
                break
        else:
            track_lanes.append([span])
            lane_of[id(placement)] = (track, len(track_lanes) - 1)
    first_channel: dict[str, int] = {}
    for track, track_lanes in lanes.items():
        first_channel[track] = next_channel
        for index in range(len(track_lanes)):
            channel = next_channel + index
            if channel <= compat.MAX_CHANNEL:
                name = track if index == 0 else f"{track} {index + 1}"
                compat.set_channel_name(seq_editor, channel, name)
        next_channel += len(track_lanes)
    channels = {}
    for key, (track, index) in lane_of.items():
        channel = first_channel[track] + index
        if channel <= compat.MAX_CHANNEL:
            channels[key] = channel
    return channels


def _add_strip(scene: Any, seq_editor: Any, placement: dict[str, Any], channel: int) -> str:
    """Add one sound strip, frame-exact; returns '' or why it failed (the strip is removed)."""
    start = int(scene.frame_start) + int(placement["record_start"])
    duration = int(placement["duration"])
    name = _strip_name(placement)
    strips = compat.top_strips(seq_editor)
    try:
        strip = strips.new_sound(name, str(placement["audio_path"]), channel, start)
    except (RuntimeError, TypeError, ValueError) as error:
        return f"Blender could not add the sound: {error}"
    strip.frame_final_start = start
    strip.frame_final_duration = duration
    strip[CLIP_ID_KEY] = str(placement["clip_id"])
    got = (strip.channel, strip.frame_final_start, strip.frame_final_duration)
    if got != (channel, start, duration):
        strips.remove(strip)
        return f"Blender placed the sound at channel {got[0]}, frames {got[1]}+{got[2]}"
    return ""


def _strip_name(placement: dict[str, Any]) -> str:
    base = str(placement.get("clip_name") or placement["clip_id"])
    take = placement.get("take")
    return f"{base} take {take}" if take not in (None, "") else base
