"""Writing the short test clips: H.264 video at 25 fps with or without a mono AAC track."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

FRAMES = 10  # 0.4 s at 25 fps: enough for the front-end, quick to prepare
RATE = 16000


def tone(seconds: float = FRAMES / 25, hz: float = 220.0) -> np.ndarray:
    """A sound that is not silence."""
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def write_clip(path: Path, frames: list[np.ndarray], audio: np.ndarray | None) -> Path:
    """An mp4 of RGB frames at 25 fps with, unless `audio` is None, a mono AAC track."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "20", "preset": "ultrafast"}
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=RATE)
            sound.layout = "mono"
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None and audio is not None:
            for first in range(0, len(audio), 1024):
                chunk = audio[first : first + 1024].astype(np.float32)[None, :]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = RATE, first
                container.mux(sound.encode(frame))
            container.mux(sound.encode(None))
    return path
