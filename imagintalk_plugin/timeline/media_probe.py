"""A video file's start timecode, rate and length, read from its headers with PyAV.

Relinking by source timecode needs only these three numbers for every candidate file, so this
reads container and stream headers and decodes nothing (the front-end's full probe decodes a
frame and scans the end of the file; the timeline package may not import it, and does not
need it). The timecode is where FFmpeg puts it: the video stream's tags (mov `tmcd`, mxf), any
other stream's (a QuickTime timecode track), or the container's (mkv, mp4 tags).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error

VIDEO_SUFFIXES = frozenset(
    {".mov", ".mp4", ".m4v", ".mxf", ".mkv", ".avi", ".mpg", ".mpeg", ".mts", ".m2ts", ".ts"}
    | {".webm", ".dv", ".wmv", ".flv", ".3gp"}
)


@dataclass(frozen=True)
class MediaTiming:
    """A video file's start timecode (as written, e.g. "01:00:00;00"), rate and length."""

    path: Path
    timecode: str
    rate: Fraction
    duration_s: float


def probe_timing(path: Path) -> MediaTiming | None:
    """The start timecode, rate and length of a video file; None when it has no video
    stream, no timecode, no known rate or length, or cannot be opened."""
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            timecode = _timecode(container)
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not timecode or not rate:
                return None
            duration = _duration_s(container, stream, Fraction(rate))
    except (av.error.FFmpegError, OSError, ValueError):
        return None
    if duration <= 0:
        return None
    return MediaTiming(path=path, timecode=timecode, rate=Fraction(rate), duration_s=duration)


def _timecode(container: av.container.InputContainer) -> str | None:
    video = container.streams.video[0]
    for meta in (video.metadata, *(s.metadata for s in container.streams), container.metadata):
        found = next((v for k, v in meta.items() if k.lower() == "timecode" and v), None)
        if found:
            return str(found).strip()
    return None


def _duration_s(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, rate: Fraction
) -> float:
    """The video stream's length from its header, else the container's, else its frame count."""
    if stream.duration and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    if stream.frames:
        return float(stream.frames / rate)
    return 0.0
