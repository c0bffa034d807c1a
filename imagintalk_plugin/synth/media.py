"""An utterance's media: speech padded to whole frames, 25 fps H.264 mp4 (PyAV), 16 kHz WAV.

Both are written through `atomic_path`, so an interrupted run never leaves half a file. The
encoder runs single-threaded with fixed settings and the container carries no creation
time: the same frames always give the same bytes (the corpus builder parallelises across
utterances instead).
"""

from __future__ import annotations

import wave
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.core.manifest import Segment
from imagintalk_plugin.espeak import SpokenText

VIDEO_FPS = 25
LEAD_S, TAIL_S = 0.3, 0.3  # silence around the speech (the face at rest)
_X264_OPTIONS = {
    "crf": "18",
    "preset": "veryfast",
    "threads": "1",
    "x264-params": "threads=1:lookahead-threads=1:sliced-threads=0",
}


def _yuv_frame(image: np.ndarray) -> av.VideoFrame:
    """An FFmpeg-allocated yuv420p frame holding `image`.

    Same frames, same bytes needs care here: wrapping a numpy array (from_ndarray) or a
    width whose chroma rows are not a multiple of 64 bytes (288 or 320 square frames) gave
    different bytes for the same frames from run to run (x264's SIMD plane copy reads a
    little past the rows), while FFmpeg-allocated, zero-filled planes of a 256-wide frame
    encoded identically every time. Hence the corpus's 256x256 frames.
    """
    height, width = image.shape[:2]
    yuv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YUV_I420)
    frame = av.VideoFrame(width, height, "yuv420p")
    planes = (
        yuv[:height],
        yuv[height : height + height // 4].reshape(height // 2, width // 2),
        yuv[height + height // 4 :].reshape(height // 2, width // 2),
    )
    for plane, data in zip(frame.planes, planes, strict=True):
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        rows[:] = 0
        rows[: data.shape[0], : data.shape[1]] = data
    return frame


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: int = VIDEO_FPS) -> Path:
    """Encode RGB (H, W, 3) uint8 frames (even sizes) as H.264 yuv420p in an mp4.

    Byte-identical output for identical frames is guaranteed only for widths that are
    multiples of 128 (see `_yuv_frame`).
    """
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = None
        for index, image in enumerate(frames):
            if stream is None:
                stream = container.add_stream("libx264", rate=Fraction(fps))
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = dict(_X264_OPTIONS)
                stream.codec_context.thread_count = 1
                stream.codec_context.thread_type = "NONE"
            frame = _yuv_frame(image)
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(stream.encode(frame))
        if stream is None:
            raise ValueError("no frames to write")
        container.mux(stream.encode(None))
    return path


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write float samples in [-1, 1] as a 16-bit PCM mono WAV."""
    pcm = np.clip(np.round(np.asarray(samples, np.float64) * 32767.0), -32768, 32767)
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.astype("<i2").tobytes())
    return path


def pad_speech(spoken: SpokenText) -> tuple[np.ndarray, list[Segment], list[Segment], float]:
    """Speech with rest before and after, trimmed or padded to a whole number of frames."""
    rate = spoken.sample_rate
    lead = int(LEAD_S * rate)
    per_frame = rate // VIDEO_FPS
    total = lead + len(spoken.samples) + int(TAIL_S * rate)
    total = -(-total // per_frame) * per_frame
    samples = np.zeros(total, np.float32)
    samples[lead : lead + len(spoken.samples)] = spoken.samples

    def shift(items: list[Segment]) -> list[Segment]:  # to the padded audio, to 0.1 ms
        return [
            Segment(t.label, round(t.start + LEAD_S, 4), round(t.end + LEAD_S, 4)) for t in items
        ]

    return samples, shift(spoken.words), shift(spoken.phonemes), total / rate
