"""A clip's speech as the trainers read it: 16 kHz mono 16-bit WAV, starting with the video.

The sound comes from a `.wav`/`.flac` beside the video with its stem when there is one (it
starts with the picture), else from the video's own first audio track, shifted by the
difference of the two streams' start times so that sample 0 is the first frame. Channels are
averaged, the rate converted with soxr, and the result cut or padded with silence to the
video's duration, so audio and lips cover the same time.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.errors import AudioFileError
from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.corpora.clips import sibling_audio
from imagintalk_plugin.timeline.bwf import write_bwf

SAMPLE_RATE = 16000
SILENT_PEAK = 1e-4  # below -80 dBFS throughout: a silent track, nothing to learn from


def decode_audio(path: Path) -> tuple[np.ndarray, int, float]:
    """(N,) float32 mono samples of `path`'s first audio track, their rate, and the time of
    the first sample in seconds; `AudioFileError` when there is no track or it is unreadable."""
    import av
    import av.error

    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.audio:
                raise AudioFileError(path, "no audio track")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="fltp")  # keeps layout and rate
            chunks: list[np.ndarray] = []
            rate, start = 0, None
            for frame in container.decode(stream):
                if start is None:
                    start = float(frame.time) if frame.time is not None else 0.0
                rate = frame.sample_rate
                for planar in resampler.resample(frame):
                    chunks.append(planar.to_ndarray().mean(axis=0))
    except (av.error.FFmpegError, ValueError, OSError) as error:
        raise AudioFileError(path, f"unreadable audio track ({error})") from error
    if not chunks or rate <= 0:
        raise AudioFileError(path, "the audio track holds no samples")
    return np.concatenate(chunks).astype(np.float32), rate, start or 0.0


def clip_audio(video: Path, video_start_s: float, duration_s: float) -> np.ndarray:
    """(round(duration_s * 16000),) float32: the clip's speech aligned to its first frame."""
    import soxr

    source = sibling_audio(video)
    samples, rate, start = decode_audio(source or video)
    offset = 0.0 if source is not None else start - video_start_s
    if rate != SAMPLE_RATE:
        samples = soxr.resample(samples, rate, SAMPLE_RATE).astype(np.float32)
    shift = round(offset * SAMPLE_RATE)
    if shift > 0:
        samples = np.concatenate([np.zeros(shift, np.float32), samples])
    elif shift < 0:
        samples = samples[-shift:]
    length = round(duration_s * SAMPLE_RATE)
    samples = np.pad(samples[:length], (0, max(0, length - len(samples))))
    if not len(samples) or float(np.abs(samples).max()) < SILENT_PEAK:
        raise AudioFileError(source or video, "the audio track is silent")
    return samples


def write_clip_audio(path: Path, samples: np.ndarray, source: Path) -> Path:
    """Write 16 kHz mono samples as 16-bit PCM (a BWF at time 0), the same bytes every run."""
    stamp = datetime.fromtimestamp(int(source.stat().st_mtime), tz=timezone.utc)
    waveform = Waveform(np.clip(samples, -1.0, 1.0).astype(np.float32), SAMPLE_RATE)
    return write_bwf(
        path,
        waveform,
        time_reference=0,
        bit_depth=16,
        origination=stamp,
        description=f"imagintalk corpus import: {source.name}",
        force=True,
    )
