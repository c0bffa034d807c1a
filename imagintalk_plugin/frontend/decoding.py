"""Frame-accurate decoding of a time range of a video as constant-rate frames (PyAV).

Lip-reading models are trained on 25 fps video, so whatever the source rate (24, 30, 50 fps or
variable), `iter_frames` resamples by timestamp: output frame k, at ``start_s + k / fps``, shows
the source frame being displayed at that instant. Only the requested range is decoded: the file
is seeked to the keyframe before it, and re-seeked earlier when a container seeks imprecisely.
Time 0 is the first frame of the file's video stream, so times are offsets into the file.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import av.error
import cv2
import numpy as np
from av.container import InputContainer
from av.format import Flags
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from imagintalk_plugin.core.errors import VideoReadError
from imagintalk_plugin.frontend.video_probe import (
    VideoInfo,
    decoded_frames,
    frame_duration,
    frame_time,
    open_video,
    probe_video,
    rotation_cw,
    stream_origin,
    stream_rate,
)

__all__ = ["DecodedFrame", "VideoInfo", "count_output_frames", "iter_frames", "probe_video"]

_EPS_S = 5e-4  # half a millisecond: a source frame due at t_k + this still counts as shown at t_k
_RESEEK_MARGINS_S = (0.0, 1.0, 5.0)  # seek this far before the start; then from the beginning
# MPEG-PS/TS: after a seek the parser interpolates timestamps from a partial first packet, off
# by up to a frame until the next real PES timestamp (<= 0.7 s by the standard): pre-roll more.
_MPEG_MARGINS_S = (2.0, 5.0)
_MAX_SKIPPED_TO_KEY = 600  # frames decoded after a seek while waiting for a keyframe
_YUV8 = frozenset(
    f"{base}{p}" for base in ("yuv", "yuvj") for p in ("420p", "422p", "444p", "440p", "411p")
) | {"nv12", "nv21", "yuv410p"}
_JPEG_RANGE = 2  # AVCOL_RANGE_JPEG: full-range samples
_LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


@dataclass(frozen=True)
class DecodedFrame:
    """One constant-rate output frame: index k, its time in the file, upright pixels."""

    index: int  # output frame index k (0-based) in the constant-rate sequence
    time_s: float  # start_s + k / fps, relative to the first frame of the file's video stream
    gray: np.ndarray  # (H, W) uint8 luma, upright, C-contiguous
    rgb: np.ndarray | None  # (H, W, 3) uint8 upright, only for the requested indices


def count_output_frames(start_s: float, end_s: float, fps: float) -> int:
    """How many constant-rate frames a range gives: the k >= 0 with start_s + k / fps < end_s."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if end_s <= start_s:
        return 0
    return max(math.ceil((end_s - start_s) * fps - 1e-6), 0)


def _luma(frame: VideoFrame) -> np.ndarray:
    """8-bit luma straight from the Y plane, expanded to full range (0-255).

    Equals what cv2.VideoCapture + COLOR_BGR2GRAY gives (BT.601 both ways, so Y comes back),
    the usual lip-reading pipeline, at a fraction of the cost: this FFmpeg's swscale turns
    BT.709 video to gray through a color-managed RGB path (several times slower than rgb24).
    Other pixel formats (10-bit, RGB...) go through `to_ndarray(format="gray")`.
    """
    if frame.format.name not in _YUV8:
        return frame.to_ndarray(format="gray")
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8, count=plane.line_size * frame.height)
    luma = rows.reshape(frame.height, plane.line_size)[:, : frame.width]
    if frame.format.name.startswith("yuvj") or frame.color_range == _JPEG_RANGE:
        return luma.copy()  # already full range; copy: the frame's buffer is reused
    return cv2.LUT(luma, _LIMITED_TO_FULL)


def _to_array(frame: VideoFrame, fmt: str, rotation: int, max_side: int | None) -> np.ndarray:
    """Convert a frame to an upright uint8 array, downscaled so its longer side <= max_side."""
    array = _luma(frame) if fmt == "gray" else frame.to_ndarray(format=fmt)
    if rotation in _ROTATE:
        array = cv2.rotate(array, _ROTATE[rotation])
    height, width = array.shape[:2]
    if max_side is not None and max(height, width) > max_side:
        scale = max_side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        array = cv2.resize(array, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(array)


class _Source:
    """One decoded source frame, converted lazily (dropped frames are never converted)."""

    def __init__(self, time_s: float, frame: VideoFrame, max_side: int | None) -> None:
        self.time_s = time_s
        self.frame = frame
        self.max_side = max_side
        self.rotation = rotation_cw(frame)
        self._gray: np.ndarray | None = None
        self._rgb: np.ndarray | None = None

    def gray(self) -> np.ndarray:
        """Upright gray image; a copy when already handed out (duplicated output frames)."""
        if self._gray is None:
            self._gray = _to_array(self.frame, "gray", self.rotation, self.max_side)
            return self._gray
        return self._gray.copy()

    def rgb(self) -> np.ndarray:
        """Upright RGB image; a copy when already handed out."""
        if self._rgb is None:
            self._rgb = _to_array(self.frame, "rgb24", self.rotation, self.max_side)
            return self._rgb
        return self._rgb.copy()


def _timed_frames(
    container: InputContainer,
    stream: VideoStream,
    origin: float | None,
    from_start: bool,
    max_side: int | None,
) -> Iterator[_Source]:
    """Decoded frames with strictly increasing times relative to `origin` (None: frame 0's).

    Frames without pts/dts are timed by counting at the stream's rate; after a seek (not
    `from_start`) frames before the first keyframe are skipped (they may be garbage), and an
    untimed first frame gets time +inf so the caller re-seeks from the beginning.
    """
    step = 1.0 / (stream_rate(stream) or 25.0)
    last: float | None = None
    skipped = 0
    for frame in decoded_frames(container, stream):
        if last is None and not from_start and not (frame.key_frame or frame.pict_type == 1):
            skipped += 1
            if skipped > _MAX_SKIPPED_TO_KEY:
                return
            continue
        absolute = frame_time(frame, stream)
        if origin is None:
            origin = absolute or 0.0
        if absolute is not None:
            time_s = absolute - origin
        elif last is not None:
            time_s = last + step
        else:
            time_s = 0.0 if from_start else math.inf
        if last is not None and time_s <= last + 1e-9:
            continue  # repeated or out-of-order timestamp: keep the first
        last = time_s
        yield _Source(time_s, frame, max_side)


def _resample(
    path: Path,
    stream: VideoStream,
    first: _Source,
    rest: Iterator[_Source],
    start_s: float,
    n_out: int | None,
    fps: float,
    rgb_indices: frozenset[int],
) -> Iterator[DecodedFrame]:
    """Emit output frame k (time start_s + k/fps) as the last source frame due by then."""
    k = 0

    def more() -> bool:
        return n_out is None or k < n_out

    def emit(source: _Source) -> DecodedFrame:
        rgb = source.rgb() if k in rgb_indices else None
        return DecodedFrame(index=k, time_s=start_s + k / fps, gray=source.gray(), rgb=rgb)

    current = first
    for source in rest:
        while more() and start_s + k / fps + _EPS_S < source.time_s:
            yield emit(current)
            k += 1
        if not more():
            return
        current = source
    # The stream ended: the last frame lasts its own duration (or one source frame period).
    fallback = 1.0 / (stream_rate(stream) or fps)
    stop = current.time_s + frame_duration(current.frame, stream, fallback)
    last = count_output_frames(start_s, stop, fps)  # same rule as counting up to duration_s
    while more() and k < last:
        yield emit(current)
        k += 1
    if k == 0:
        raise VideoReadError(
            path, f"empty range: start {start_s:.3f} s is past the end of the video"
        )


def _iter_range(
    path: Path,
    start_s: float,
    n_out: int | None,
    fps: float,
    rgb_indices: frozenset[int],
    max_side: int | None,
) -> Iterator[DecodedFrame]:
    """Seek (re-seeking earlier when the landing frame is late), then resample the range."""
    container, stream = open_video(path)
    try:
        origin = stream_origin(stream)
        flags = int(container.format.flags)
        margins: tuple[float | None, ...] = (*_RESEEK_MARGINS_S, None)
        if flags & Flags.ts_discont.value:
            margins = (*_MPEG_MARGINS_S, None)
        elif stream.duration and start_s > float(stream.duration * stream.time_base) + 1.0:
            # Indexed containers know their length: no need to decode it all to find out.
            raise VideoReadError(
                path, f"empty range: start {start_s:.3f} s is past the end of the video"
            )
        if origin is None or start_s <= _EPS_S or flags & Flags.no_timestamps.value:
            margins = (None,)  # raw streams have no timestamps to seek by
        for attempt, margin in enumerate(margins):
            if margin is None:
                if attempt > 0:  # the demuxer has moved: restart from a clean open
                    container.close()
                    container, stream = open_video(path)
            else:
                target = (origin or 0.0) + start_s - margin
                try:
                    container.seek(int(target / stream.time_base), stream=stream, backward=True)
                except (av.error.FFmpegError, OSError):
                    continue
            sources = _timed_frames(container, stream, origin, margin is None, max_side)
            first = next(sources, None)
            if first is None or (margin is not None and first.time_s > start_s + _EPS_S):
                continue
            yield from _resample(path, stream, first, sources, start_s, n_out, fps, rgb_indices)
            return
        raise VideoReadError(path, "no decodable video frames")
    finally:
        container.close()


def iter_frames(
    path: str | Path,
    start_s: float = 0.0,
    end_s: float | None = None,
    fps: float = 25.0,
    rgb_indices: Collection[int] = (),
    max_side: int | None = None,
) -> Iterator[DecodedFrame]:
    """Decode [start_s, end_s) of a video as constant-rate, upright frames (see module doc).

    `end_s=None` reads to the end of the stream. RGB is converted only for `rgb_indices` (output
    indices) to save time; `max_side` downscales large frames. Raises `VideoReadError` for a
    missing, non-video or undecodable file and for an empty range (checked before decoding when
    the arguments alone show it, else on iteration).
    """
    p = Path(path)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not p.exists():
        raise VideoReadError(p, "file not found")
    if start_s < 0:
        raise VideoReadError(p, f"empty range: start {start_s:.3f} s is before the video")
    n_out = None
    if end_s is not None:
        n_out = count_output_frames(start_s, end_s, fps)
        if n_out == 0:
            raise VideoReadError(
                p, f"empty range: end {end_s:.3f} s is not after start {start_s:.3f} s"
            )
    return _iter_range(p, start_s, n_out, fps, frozenset(rgb_indices), max_side)
