"""Timeline-side types: a clip to dub (`ClipRef`) and generated audio placed under it.

Time is always OpenTimelineIO's `RationalTime`/`TimeRange`; record times are on the timeline's
rate and counted from the timeline's first frame (frame 0), source times are in the media's own
time (its embedded timecode included), as OTIO stores them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentimelineio.opentime import RationalTime, TimeRange

DIALOGUE_TRACK = "ImaginTalk Dialogue"  # the default name of the tracks takes are placed on


@dataclass(frozen=True)
class ClipRef:
    """A dubbable video clip on a timeline: where it sits, what media it shows, from where.

    `clip_id` is stable for the same timeline file ("V1-003": third clip on video track 1, nested
    stacks flattened), so commands and the panel can name clips across runs.
    """

    clip_id: str
    name: str
    track_name: str
    track_index: int  # 1-based among the timeline's video tracks
    record_range: TimeRange  # on the timeline, frame 0 = the timeline's first frame
    source_range: TimeRange  # in the media's time
    timeline_fps: float
    timeline_start: RationalTime  # the timeline's start timecode as a time
    drop_frame: bool  # how the timeline's timecode is displayed
    media_path: str | None  # local path (or URL) of the picture; None when there is none
    media_fps: float | None
    available_range: TimeRange | None = None  # what the media holds, for handles
    offline: bool = False  # media missing or not referenced
    speaker: str | None = None  # speaker label carried by the clip, if any
    time_scalar: float = 1.0  # speed effect: 1 normal, 2 twice as fast, 0 freeze frame
    notes: tuple[str, ...] = ()  # things the user should know (speed effect, transition, ...)
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def duration_frames(self) -> int:
        """Length on the timeline in timeline frames."""
        return round(self.record_range.duration.rescaled_to(self.timeline_fps).value)

    @property
    def handle_head(self) -> RationalTime | None:
        """Media available before the used source range, or None when unknown."""
        if self.available_range is None:
            return None
        head = self.source_range.start_time - self.available_range.start_time
        return head if head.value > 0 else RationalTime(0, head.rate)

    @property
    def handle_tail(self) -> RationalTime | None:
        """Media available after the used source range, or None when unknown."""
        if self.available_range is None:
            return None
        tail = self.available_range.end_time_exclusive() - self.source_range.end_time_exclusive()
        return tail if tail.value > 0 else RationalTime(0, tail.rate)


@dataclass(frozen=True)
class PlacedAudio:
    """A generated audio file and where it goes: under `clip`, on `track_name`."""

    clip: ClipRef
    audio_path: Path
    record_range: TimeRange  # on the timeline, like ClipRef.record_range
    sample_rate: int
    track_name: str = DIALOGUE_TRACK
    take: int = 1
    seed: int | None = None
    model: str | None = None

    @property
    def dialogue_track(self) -> str:
        """The track this take asks for: "<track_name> - <speaker>" when the default track is
        kept and the clip has a speaker label, so each speaker gets a track of their own."""
        if self.clip.speaker and self.track_name == DIALOGUE_TRACK:
            return f"{DIALOGUE_TRACK} - {self.clip.speaker}"
        return self.track_name
