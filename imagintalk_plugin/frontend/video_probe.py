"""Open a video with PyAV and describe its video stream: size, rotation, rate, timing, timecode.

Shared by `decoding`: opening with one-line `VideoReadError`s, a decode loop that survives damaged
packets (truncated files decode up to the damage and never hang), and timestamp helpers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.container import InputContainer
from av.format import Flags
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from imagintalk_plugin.core.errors import VideoReadError

_MAX_BAD_PACKETS = 50  # consecutive undecodable packets before a stream is given up as broken
_END_SCAN_MAX_PACKETS = 5000  # packets read after seeking to the end to find the last frame's end
_MPEG_END_PREROLL_S = 3.0  # MPEG-PS/TS end scan starts this long before the estimated end


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as the front-end needs it (sizes are after rotation)."""

    path: Path
    width: int
    height: int
    rotation: int  # degrees clockwise to apply to decoded frames to show them upright
    fps: float  # average frame rate, 0.0 if unknown
    duration_s: float  # best estimate of the video stream's duration
    start_s: float  # the stream's first pts in seconds; time 0 of `iter_frames`
    codec: str
    timecode: str | None  # embedded start timecode (mov tmcd, mxf, mkv tag), if any
    has_audio: bool


def _reason(exc: BaseException) -> str:
    """A short one-line reason from an FFmpeg/OS error."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


def open_video(path: Path) -> tuple[InputContainer, VideoStream]:
    """Open `path`, pick its main video stream (not cover art) and enable threaded decoding."""
    if not path.exists():
        raise VideoReadError(path, "file not found")
    if not path.is_file():
        raise VideoReadError(path, "not a regular file")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoReadError(path, f"not a readable video file ({_reason(exc)})") from exc
    streams = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    if not streams:
        container.close()
        raise VideoReadError(path, "no video stream")
    stream = streams[0]
    stream.thread_type = "AUTO"
    return container, stream


def stream_rate(stream: VideoStream) -> float:
    """The stream's average frame rate (guessed if not stored), 0.0 when unknown."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return 0.0


def stream_origin(stream: VideoStream) -> float | None:
    """The stream's start time in seconds (its first pts), None when the container lacks it."""
    if stream.start_time is None or stream.time_base is None:
        return None
    return float(stream.start_time * stream.time_base)


def frame_time(frame: VideoFrame, stream: VideoStream) -> float | None:
    """Absolute presentation time of a frame in seconds: pts, else dts, else None."""
    time_base: Fraction | None = frame.time_base or stream.time_base
    if time_base is None:
        return None
    for stamp in (frame.pts, frame.dts):
        if stamp is not None:
            return float(stamp * time_base)
    return None


def frame_duration(frame: VideoFrame, stream: VideoStream, fallback: float) -> float:
    """How long a frame is shown: its own duration if stored, else `fallback` seconds."""
    time_base = frame.time_base or stream.time_base
    if frame.duration and time_base is not None and frame.duration > 0:
        return float(frame.duration * time_base)
    return fallback


def rotation_cw(frame: VideoFrame) -> int:
    """Clockwise degrees (0/90/180/270) to show a frame upright, from its display matrix.

    `VideoFrame.rotation` is counter-clockwise (FFmpeg's convention), hence the sign flip,
    exactly as the ffmpeg command line's autorotate does.
    """
    try:
        ccw = float(frame.rotation)
    except (AttributeError, ValueError, TypeError):  # no or malformed display matrix
        return 0
    return (round(-ccw / 90.0) * 90) % 360


def decoded_frames(container: InputContainer, stream: VideoStream) -> Iterator[VideoFrame]:
    """Decode `stream` from the current position; damaged packets are skipped, never looped on.

    Ends at the end of the file, when the demuxer fails (truncated file: what came before is
    kept), or after too many undecodable packets in a row.
    """
    packets = container.demux(stream)
    bad = 0
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.error.FFmpegError, OSError):
            with contextlib.suppress(av.error.FFmpegError, OSError):
                yield from stream.decode(None)  # the demuxer gave up: flush the decoder
            return
        try:
            frames = stream.decode(packet)
        except (av.error.FFmpegError, OSError):
            bad += 1
            if bad > _MAX_BAD_PACKETS:
                return
            continue
        bad = 0
        yield from frames


def _scan_end(container: InputContainer, stream: VideoStream, seek_s: float) -> float | None:
    """Absolute end time of the last packet: seek to `seek_s` and read to the end of the file.

    Exact for MPEG-PS/TS, whose header estimates are poor, and cheap: one seek, a GOP or two.
    None when the seek fails or the end is not reached within a bounded number of packets.
    """
    time_base = stream.time_base
    if time_base is None:
        return None
    end = None
    try:
        container.seek(max(int(seek_s / time_base), 0), stream=stream, backward=True)
        for count, packet in enumerate(container.demux(stream)):
            if count >= _END_SCAN_MAX_PACKETS:
                return None
            if packet.pts is not None:
                stop = float((packet.pts + max(packet.duration or 0, 0)) * time_base)
                end = stop if end is None else max(end, stop)
    except (av.error.FFmpegError, OSError):
        return None
    return end


def _estimate_duration(
    container: InputContainer, stream: VideoStream, origin: float, rate: float
) -> float:
    """Best estimate of the video stream's duration in seconds (0.0 when nothing is known)."""
    estimates = []
    if stream.duration and stream.time_base is not None:
        estimates.append(float(stream.duration * stream.time_base))
    if container.duration:
        container_start = (container.start_time or 0) / av.time_base
        estimates.append(container.duration / av.time_base - (origin - container_start))
    if stream.frames and rate > 0:
        estimates.append(stream.frames / rate)
    longest = max(estimates, default=0.0)
    if container.format.flags & Flags.ts_discont.value:
        # MPEG-PS/TS: timestamps right after a seek are interpolated and can be off by a
        # frame; start well before the end so the last ones are real PES timestamps again.
        seek_s = max(origin + longest - _MPEG_END_PREROLL_S, origin)
    else:
        seek_s = origin + longest + 10.0
    end = _scan_end(container, stream, seek_s)
    if end is not None and end > origin:
        return end - origin
    return max(estimates[0] if estimates else 0.0, 0.0)


def probe_video(path: str | Path) -> VideoInfo:
    """Describe a video file (size after rotation, rate, duration, timecode) or raise.

    Decodes the first frame, both to read its display matrix (rotation) and to make sure the
    file is really decodable; raises `VideoReadError` when it is not.
    """
    p = Path(path)
    container, stream = open_video(p)
    with container:
        first = next(decoded_frames(container, stream), None)
        if first is None:
            raise VideoReadError(p, "no decodable video frames")
        rate = stream_rate(stream)
        origin = stream_origin(stream)
        if origin is None:
            origin = frame_time(first, stream) or 0.0
        rotation = rotation_cw(first)
        width = stream.codec_context.width or first.width
        height = stream.codec_context.height or first.height
        if rotation in (90, 270):
            width, height = height, width
        timecode = None
        for meta in (stream.metadata, *(s.metadata for s in container.streams), container.metadata):
            timecode = next((v for k, v in meta.items() if k.lower() == "timecode"), None)
            if timecode:
                break
        return VideoInfo(
            path=p,
            width=width,
            height=height,
            rotation=rotation,
            fps=rate,
            duration_s=_estimate_duration(container, stream, origin, rate),
            start_s=origin,
            codec=stream.codec_context.name,
            timecode=timecode,
            has_audio=bool(container.streams.audio),
        )
