"""Audio for the judges: any WAV to 16 kHz mono float32, and the frame features they share.

Generated speech may come at any rate and channel count; it is mixed to mono and resampled with
soxr, so every judge sees the ground truth and the generated audio on the same footing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
PITCH_STEP_S = 0.01
PITCH_FLOOR_HZ = 60.0
PITCH_CEILING_HZ = 500.0


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


def frame_energy_db(samples: np.ndarray, hop: int, window: int | None = None) -> np.ndarray:
    """Energy in dB of frames starting every `hop` samples (window defaults to the hop)."""
    window = window or hop
    count = max(0, (len(samples) - window) // hop + 1)
    if count == 0:
        return np.zeros(0, np.float32)
    index = np.arange(window)[None, :] + hop * np.arange(count)[:, None]
    power = np.mean(np.asarray(samples, np.float64)[index] ** 2, axis=1)
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
    import parselmouth

    samples = np.asarray(samples, np.float64)
    duration = len(samples) / SAMPLE_RATE
    count = int(duration / PITCH_STEP_S)
    times = np.arange(count) * PITCH_STEP_S
    f0 = np.zeros(count)
    if duration > 3.0 / PITCH_FLOOR_HZ:
        pitch = parselmouth.Sound(samples, SAMPLE_RATE).to_pitch_ac(
            time_step=PITCH_STEP_S, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ
        )
        values = pitch.selected_array["frequency"]
        index = np.round((times - pitch.xs()[0]) / PITCH_STEP_S).astype(int)
        inside = (index >= 0) & (index < len(values))
        f0[inside] = values[index[inside]]
    hop, window = int(PITCH_STEP_S * SAMPLE_RATE), int(0.025 * SAMPLE_RATE)
    padded = np.pad(samples, (window // 2, window))
    energy = frame_energy_db(padded, hop, window)[:count]
    return PitchTrack(times, f0.astype(np.float32), energy)
