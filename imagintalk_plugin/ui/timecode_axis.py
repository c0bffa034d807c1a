"""Times as an editor reads them: record timecode at the timeline's rate, drop-frame aware.

The inspect views and the audition count seconds from the clip's first frame; `ClipClock`
turns such a time into the timecode it has on the timeline (`01:00:02:12`, `00:59:59;28` at
29.97 drop-frame), and `TimecodeAxis` labels a plot's time axis with it, never finer than a
frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.timeline.timecode import rate_float, timecode, to_frames


@dataclass(frozen=True)
class ClipClock:
    """A clip's place on its timeline, for labelling times inside the clip."""

    fps: float  # the timeline's rate
    drop_frame: bool
    first_frame: int  # the clip's first record frame, counted from 00:00:00:00

    @classmethod
    def of(cls, clip: ClipRef) -> ClipClock:
        """The clock of a timeline clip."""
        fps = rate_float(clip.timeline_fps)
        start = to_frames(clip.timeline_start, fps) + to_frames(clip.record_range.start_time, fps)
        return cls(fps, clip.drop_frame, start)

    def frames(self, seconds: float) -> int:
        """Whole frames in `seconds` (rounded down, as a timecode display does)."""
        return math.floor(seconds * self.fps + 1e-6)

    def record(self, seconds: float) -> str:
        """The record timecode `seconds` into the clip."""
        return timecode(self.first_frame + self.frames(seconds), self.fps, self.drop_frame)

    def duration(self, seconds: float) -> str:
        """A length as timecode (`00:00:01:06`); a duration is never drop-frame."""
        return timecode(self.frames(seconds), self.fps)


def seconds_clock() -> ClipClock:
    """A clock for no clip: plain 25 fps timecode from zero."""
    return ClipClock(25.0, False, 0)


class TimecodeAxis(pg.AxisItem):
    """A bottom axis of seconds-from-the-clip's-first-frame, labelled in record timecode."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("bottom", **kwargs)
        self.clock = seconds_clock()

    def set_clock(self, clock: ClipClock) -> None:
        """Label with this clip's timecode."""
        self.clock = clock
        self.picture = None  # pyqtgraph's cached drawing
        self.update()

    def tickSpacing(  # noqa: N802 (pyqtgraph's name; it passes the arguments by position)
        self, low: float, high: float, size: float
    ) -> list[tuple[float, float]]:
        """pyqtgraph's spacings, none finer than one frame (they would repeat a label)."""
        frame = 1.0 / self.clock.fps
        levels = super().tickSpacing(low, high, size)
        kept = [(spacing, offset) for spacing, offset in levels if spacing >= frame * 0.999]
        return kept or [(frame, 0.0)]

    def tickStrings(  # noqa: N802 (pyqtgraph's name)
        self, values: list[float], scale: float, spacing: float
    ) -> list[str]:
        """Each tick's record timecode."""
        return [self.clock.record(v * scale) for v in values]
