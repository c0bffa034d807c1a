"""Joining a clip's overlapping windows into one take, and silencing stretches without a face.

Two neighbouring windows both generate their overlap from the same picture; the cut between
them is placed at the quietest 20 ms of the overlap (a pause, where there is one) and
crossfaded there, so no seam lands inside a syllable. Frames where no face was found give
silence: the audio under them is gated to zero with 10 ms ramps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imagintalk_plugin.nn.lip_aligner import UNIT_RATE_HZ
from imagintalk_plugin.pipeline.voice_generation import SAMPLE_RATE

STEP_SAMPLES = int(SAMPLE_RATE / UNIT_RATE_HZ)  # 320 samples per 50 Hz step
FADE_S = 0.01  # ramps at the edges of face-less stretches
SEAM_STEPS = 1  # crossfade length at a window seam, in 50 Hz steps (20 ms)


@dataclass
class WindowSpeech:
    """One window's audio and its tokens (50 Hz; codes at the output rate)."""

    audio: np.ndarray
    units: np.ndarray
    confidence: np.ndarray
    refined: np.ndarray
    error: np.ndarray
    codes: np.ndarray


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """`audio` cut or zero-padded to `length` samples."""
    return np.pad(audio, (0, max(0, length - len(audio))))[:length]


def _out_step(frame: int, speed: float) -> int:
    """Output 50 Hz step of a 25 fps video frame, at the take's speed."""
    return round(2 * frame / speed)


def quietest_cut(
    left: WindowSpeech,
    left_start: int,
    right: WindowSpeech,
    right_start: int,
    left_stop: int,
    speed: float,
) -> int:
    """The output step (absolute) inside the overlap where both windows are quietest."""
    begin, end = _out_step(right_start, speed), _out_step(left_stop, speed)
    margin = max(1, (end - begin) // 4)  # keep the cut away from the windows' own edges
    candidates = np.arange(begin + margin, max(begin + margin + 1, end - margin))

    def energy(w: WindowSpeech, origin: int, step: int) -> float:
        local = (step - origin) * STEP_SAMPLES
        chunk = w.audio[max(0, local) : local + STEP_SAMPLES]
        return float(np.sum(chunk.astype(np.float64) ** 2))

    left_origin, right_origin = _out_step(left_start, speed), begin
    costs = [energy(left, left_origin, s) + energy(right, right_origin, s) for s in candidates]
    return int(candidates[int(np.argmin(costs))])


def stitch(
    windows: list[WindowSpeech], starts: list[int], cuts: list[int], speed: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Audio and token arrays joined at the cuts, audio crossfaded over SEAM_STEPS."""
    bounds = [0, *cuts, None]
    audio_parts, token_parts = [], {k: [] for k in ("units", "confidence", "refined", "error")}
    code_parts = []
    fade = SEAM_STEPS * STEP_SAMPLES
    for i, w in enumerate(windows):
        origin_in = 2 * starts[i]  # input-rate steps (tokens)
        origin_out = _out_step(starts[i], speed)
        lo, hi = bounds[i], bounds[i + 1]
        lo_in = 0 if i == 0 else round(lo * speed) - origin_in
        hi_in = None if hi is None else round(hi * speed) - origin_in
        for key in token_parts:
            token_parts[key].append(getattr(w, key)[lo_in:hi_in])
        lo_out = 0 if i == 0 else lo - origin_out
        hi_out = None if hi is None else hi - origin_out
        code_parts.append(w.codes[:, lo_out:hi_out])
        start = lo_out * STEP_SAMPLES
        stop = None if hi_out is None else hi_out * STEP_SAMPLES + fade
        part = w.audio[start:stop].astype(np.float32).copy()
        if audio_parts and fade:
            ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
            previous = audio_parts[-1]
            n = min(fade, len(previous), len(part))
            previous[-n:] = previous[-n:] * (1 - ramp[:n]) + part[:n] * ramp[:n]
            part = part[n:]
        audio_parts.append(part)
    pieces = {key: np.concatenate(parts) for key, parts in token_parts.items()}
    pieces["codes"] = np.concatenate(code_parts, axis=1)
    return np.concatenate(audio_parts), pieces


def face_gate(valid: np.ndarray, fps: float, length: int, speed: float) -> np.ndarray:
    """(length,) gain: 1 under frames with a face, 0 elsewhere, ramping down over FADE_S."""
    if valid.all():
        return np.ones(length, np.float32)
    frame_samples = SAMPLE_RATE / fps / speed
    index = np.minimum((np.arange(length) / frame_samples).astype(np.int64), len(valid) - 1)
    gate = valid[index].astype(np.float32)
    ramp = max(1, int(FADE_S * SAMPLE_RATE))
    smooth = np.convolve(gate, np.ones(ramp, np.float32) / ramp, mode="same")
    return np.minimum(smooth, gate).astype(np.float32)
