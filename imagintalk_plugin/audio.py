"""Audio helpers that inference, training and the judges share.

Any WAV to 16 kHz mono float32 (mixed to mono, resampled with soxr), frame energy, Praat pitch
tracks, and Resemblyzer's pretrained voice encoder (GE2E, 256-d; its weights ship in the wheel,
so nothing is downloaded). One home so that `pipeline/` never reaches into the judges.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.core.errors import ModelLoadError

SAMPLE_RATE = 16000
PITCH_STEP_S = 0.01
PITCH_FLOOR_HZ = 60.0
PITCH_CEILING_HZ = 500.0
_ENERGY_BLOCK = 1024  # frames squared at a time by frame_energy_db


def load_audio(path: str | Path) -> np.ndarray:
    """A WAV file as (N,) float32 at 16 kHz mono; `AudioFileError` if it cannot be read."""
    from imagintalk_plugin.timeline.bwf import read_wav

    wave = read_wav(path)
    samples = wave.samples if wave.samples.ndim == 1 else wave.samples.mean(axis=0)
    return resample(samples, wave.sample_rate)


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono samples at `rate` resampled to 16 kHz float32 (soxr, high quality)."""
    samples = np.asarray(samples, np.float32)
    if rate == SAMPLE_RATE:
        return samples.copy()
    import soxr

    return soxr.resample(samples, rate, SAMPLE_RATE).astype(np.float32)


def frame_energy_db(
    samples: np.ndarray, hop: int, window: int | None = None, pad: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Energy in dB of frames starting every `hop` samples (window defaults to the hop) of the
    samples with `pad` zeros before and after them.

    A block of frames at a time, from a float64 copy of just that block's samples: a whole
    take's frames at once would be 25x its float64 samples (150 MB for 3 minutes), and a
    padded float64 copy of the take 4x, for the same figures to the bit.
    """
    samples = np.asarray(samples)
    window = window or hop
    before, after = pad
    count = max(0, (len(samples) + before + after - window) // hop + 1)
    if count == 0:
        return np.zeros(0, np.float32)
    power = np.empty(count)
    for first in range(0, count, _ENERGY_BLOCK):
        frames = min(_ENERGY_BLOCK, count - first)
        start = first * hop - before  # the block's span, in the unpadded samples' indices
        span = np.zeros((frames - 1) * hop + window)
        lo, hi = max(start, 0), min(start + len(span), len(samples))
        if hi > lo:
            span[lo - start : hi - start] = samples[lo:hi]
        block = np.lib.stride_tricks.sliding_window_view(span, window)[::hop]
        power[first : first + frames] = np.mean(block**2, axis=1)
    return (10.0 * np.log10(power + 1e-10)).astype(np.float32)


def active_span(samples: np.ndarray, below_peak_db: float = 35.0) -> tuple[float, float]:
    """Start and end in seconds of the part louder than `below_peak_db` under the peak."""
    hop = SAMPLE_RATE // 100
    energy = frame_energy_db(samples, hop, 2 * hop)
    if len(energy) == 0:
        return 0.0, 0.0
    loud = np.flatnonzero(energy > energy.max() - below_peak_db)
    return loud[0] * hop / SAMPLE_RATE, (loud[-1] + 2) * hop / SAMPLE_RATE


@dataclass(frozen=True)
class PitchTrack:
    """F0 every 10 ms from Praat (parselmouth): 0 Hz where unvoiced; energy on the same frames."""

    times: np.ndarray  # (T,) seconds, frame centres
    f0_hz: np.ndarray  # (T,)
    energy_db: np.ndarray  # (T,)

    @property
    def voiced(self) -> np.ndarray:
        """Frames with a pitch."""
        return self.f0_hz > 0


def pitch_track(samples: np.ndarray) -> PitchTrack:
    """Praat's autocorrelation pitch (60-500 Hz, 10 ms steps) and 25 ms-window energy.

    Frame i is centred at i * 10 ms (Praat's frames are re-sampled onto that grid), so two
    tracks of audio that start together line up frame by frame.
    """
    samples = np.asarray(samples)
    duration = len(samples) / SAMPLE_RATE
    count = int(duration / PITCH_STEP_S)
    times = np.arange(count) * PITCH_STEP_S
    f0 = np.zeros(count)
    if duration > 3.0 / PITCH_FLOOR_HZ:
        values, first = _praat_pitch(samples)
        index = np.round((times - first) / PITCH_STEP_S).astype(int)
        inside = (index >= 0) & (index < len(values))
        f0[inside] = values[index[inside]]
    hop, window = int(PITCH_STEP_S * SAMPLE_RATE), int(0.025 * SAMPLE_RATE)
    energy = frame_energy_db(samples, hop, window, pad=(window // 2, window))[:count]
    return PitchTrack(times, f0.astype(np.float32), energy)


def _praat_pitch(samples: np.ndarray) -> tuple[np.ndarray, float]:
    """Praat's frequencies (0 unvoiced) and its first frame's time; Praat's copy of the
    samples lives only while it analyses them."""
    import parselmouth

    sound = parselmouth.Sound(np.asarray(samples, np.float64), SAMPLE_RATE)
    pitch = sound.to_pitch_ac(
        time_step=PITCH_STEP_S, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ
    )
    return pitch.selected_array["frequency"], float(pitch.xs()[0])


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (NaN if either is zero)."""
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm > 0 else float("nan")


class SpeakerEncoder:
    """Resemblyzer's VoiceEncoder on the CPU, loaded on first use and then reused."""

    def __init__(self) -> None:
        self._encoder: Any = None

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """Unit-length 256-d voice embedding of 16 kHz mono speech."""
        if self._encoder is None:
            try:
                with warnings.catch_warnings():  # its scipy.ndimage.morphology import
                    warnings.simplefilter("ignore", DeprecationWarning)
                    from resemblyzer import VoiceEncoder
            except ImportError as exc:
                raise ModelLoadError("resemblyzer", f"cannot import: {exc}") from exc
            self._encoder = VoiceEncoder("cpu", verbose=False)
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(np.asarray(samples, np.float32))  # already at 16 kHz
        if len(wav) < SAMPLE_RATE // 10:  # webrtcvad found (almost) no speech: use it all
            wav = np.asarray(samples, np.float32)
        return np.asarray(self._encoder.embed_utterance(wav), np.float32)
