"""Where a timeline clip's picture lies in its media file, in seconds from the first frame.

Timelines give source ranges in media time, which for camera files usually starts at the
file's embedded start timecode (01:00:00:00, say); the decoder counts from the file's first
frame. The origin is the media's available range when the timeline knows it, else the file's
own start timecode, else zero.
"""

from __future__ import annotations

from opentimelineio.opentime import RationalTime

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.errors import VideoReadError
from imagintalk_plugin.frontend.decoding import VideoInfo


def file_timecode_origin(info: VideoInfo, rate: float) -> RationalTime | None:
    """The file's embedded start timecode as a time at `rate`, if it has a readable one."""
    if not info.timecode:
        return None
    try:
        return RationalTime.from_timecode(info.timecode, rate)
    except (ValueError, TypeError):
        return None


def clip_range_seconds(clip: ClipRef, info: VideoInfo) -> tuple[float, float]:
    """(start_s, end_s) of the clip's source range, as offsets into its media file.

    `info` is the probed media, so the caller has already found the clip online.
    """
    start = clip.source_range.start_time
    origin = None
    if clip.available_range is not None:
        origin = clip.available_range.start_time
    else:
        origin = file_timecode_origin(info, start.rate)
    if origin is not None and start.to_seconds() >= origin.to_seconds() - 1e-9:
        start_s = start.to_seconds() - origin.to_seconds()
    else:
        start_s = start.to_seconds()
    end_s = start_s + clip.source_range.duration.to_seconds()
    if info.duration_s > 0 and start_s >= info.duration_s:
        raise VideoReadError(
            info.path,
            f"clip '{clip.clip_id}' starts at {start_s:.2f} s, after the video ends "
            f"({info.duration_s:.2f} s)",
        )
    return start_s, end_s
