"""Writing an utterance's media: 25 fps H.264 mp4 (PyAV) and 16 kHz 16-bit mono WAV.

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
import numpy as np

from imagintalk_plugin.core.files import atomic_path

VIDEO_FPS = 25
_X264_OPTIONS = {"crf": "18", "preset": "veryfast", "threads": "1"}


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: int = VIDEO_FPS) -> Path:
    """Encode RGB (H, W, 3) uint8 frames (even sizes) as H.264 yuv420p in an mp4."""
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = None
        for image in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=Fraction(fps))
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = dict(_X264_OPTIONS)
                stream.codec_context.thread_count = 1
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
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
