"""A timeline's rate, start timecode and drop-frame mode, from wherever its format keeps them.

OTIO models the start as `global_start_time`, but adapters fill it unevenly: the FCPXML reader
drops the sequence's `tcStart`, no reader records whether timecode is drop-frame, and OTIO JSON
may carry no start at all. The facts are looked up per format here, falling back to OTIO's own
convention (29.97 and 59.94 display drop-frame).
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
from opentimelineio.opentime import RationalTime

from imagintalk_plugin.timeline.timecode import (
    exact_rate,
    frames_time,
    is_drop_frame_rate,
    timecode,
    to_frames,
)

_DEFAULT_RATE = Fraction(24)


def timeline_rate(timeline: otio.schema.Timeline) -> Fraction:
    """The timeline's frame rate: its start time's rate, its format metadata, or its first clip."""
    start = timeline.global_start_time
    if start is not None and start.rate > 0:
        return exact_rate(start.rate)
    fcp = timeline.metadata.get("fcp_xml", {})
    rate = fcp.get("rate") if isinstance(fcp, dict) else None
    if isinstance(rate, dict) and rate.get("timebase"):
        base = int(rate["timebase"])
        ntsc = str(rate.get("ntsc", "FALSE")).upper() == "TRUE"
        return Fraction(base * 1000, 1001) if ntsc else Fraction(base)
    for track in timeline.video_tracks() or timeline.tracks:
        for item in track:
            duration = item.duration()
            if duration.rate > 0:
                return exact_rate(duration.rate)
    return _DEFAULT_RATE


def start_time(path: Path, key: str, timeline: otio.schema.Timeline, fps: Fraction) -> RationalTime:
    """The timeline's start timecode as a whole-frame time at `fps`."""
    start = timeline.global_start_time
    if start is None and key == "fcpx_xml":
        start = _fcpxml_tc_start(path)
    if start is None:
        return frames_time(0, fps)
    return frames_time(to_frames(start, fps), fps)


def drop_frame(path: Path, key: str, timeline: otio.schema.Timeline, fps: Fraction) -> bool:
    """Whether the timeline's timecode is displayed drop-frame."""
    if not is_drop_frame_rate(fps):
        return False
    found: bool | None = None
    if key == "fcp_xml":
        fmt = _nested(timeline.metadata, "fcp_xml", "timecode", "displayformat")
        found = None if fmt is None else str(fmt).upper() == "DF"
    elif key == "fcpx_xml":
        fmt = _fcpxml_attr(path, "tcFormat")
        found = None if fmt is None else fmt.upper() == "DF"
    elif key == "aaf":
        found = _aaf_drop_frame(path)
    ours = _nested(timeline.metadata, "imagintalk", "drop_frame")
    if ours is not None:
        found = bool(ours)
    if found is None:
        found = _start_suggests_drop_frame(timeline, fps)
    return found


def _start_suggests_drop_frame(timeline: otio.schema.Timeline, fps: Fraction) -> bool:
    """With nothing stated, OTIO's convention (drop-frame at 29.97/59.94), unless the start is
    a round non-drop minute that is not a round drop-frame one (01:00:00:00 NDF = 108000 frames
    at 29.97, which would read 01:00:03;18 in drop-frame)."""
    start = timeline.global_start_time
    if start is None:
        return True
    frames = to_frames(start, fps)
    nominal = round(fps)
    if frames == 0 or frames % (nominal * 60):
        return True
    return timecode(frames, fps, drop_frame=True).endswith(":00;00")


def _nested(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


_ATTR = r'<sequence\b[^>]*\b{name}="([^"]*)"'


def _fcpxml_attr(path: Path, name: str) -> str | None:
    """An attribute of the first <sequence> of an FCPXML file (cheap regex on its text)."""
    if path.is_dir():
        return None
    found = re.search(_ATTR.format(name=name), path.read_text(encoding="utf-8", errors="replace"))
    return found.group(1) if found else None


def _fcpxml_tc_start(path: Path) -> RationalTime | None:
    """FCPXML's tcStart ("3600/1s", "0s") as a time in seconds."""
    text = _fcpxml_attr(path, "tcStart")
    found = re.fullmatch(r"(\d+)(?:/(\d+))?s", text or "")
    if not found:
        return None
    seconds = Fraction(int(found.group(1)), int(found.group(2) or 1))
    return RationalTime(float(seconds * 48000), 48000)


def _aaf_drop_frame(path: Path) -> bool | None:
    """The Drop flag of the top-level composition's timecode track, if there is one."""
    import aaf2

    try:
        with aaf2.open(str(path), "r") as aaf:
            for mob in aaf.content.toplevel():
                for slot in mob.slots:
                    segment = slot.segment
                    parts = [segment, *getattr(segment, "components", [])]
                    for part in parts:
                        if isinstance(part, aaf2.components.Timecode):
                            return bool(part.drop)
    except Exception:  # the timeline itself was read; a missing flag falls back to the rate
        return None
    return None
