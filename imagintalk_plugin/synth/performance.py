"""How one utterance is acted: mouth from the phonemes, emotion, blinks and head motion.

Everything random here comes from the utterance's own generator, so an utterance renders the
same whatever else is in the corpus.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from imagintalk_plugin.core.manifest import Segment
from imagintalk_plugin.synth.face_rig import FacePose
from imagintalk_plugin.synth.visemes import articulation

# emotion -> face offsets (see FacePose): brows, eyes and mouth corners; surprise drops the jaw
EMOTION_FACE: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"smile": 0.75, "eye_open": -0.12, "brow_raise": 0.1},
    "sad": {"smile": -0.5, "brow_inner": 0.85, "eye_open": -0.22},
    "angry": {"brow_raise": -0.35, "brow_inner": -0.9, "eye_open": -0.2, "smile": -0.15},
    "surprised": {"brow_raise": 1.0, "eye_open": 0.4, "jaw": 0.15},
}
_BLINK_EVERY_S = 3.0  # mean time between blinks
_BLINK_SHAPE_S = (0.08, 0.05, 0.13)  # closing, closed, opening


def blink_curve(frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Eyelid closure (0..1) per frame: blinks at random times, fast down and slower up."""
    rate = 200
    steps = int(np.ceil(frames / fps * rate)) + 1
    curve = np.zeros(steps)
    t = rng.uniform(0.2, _BLINK_EVERY_S)
    down, hold, up = (int(s * rate) for s in _BLINK_SHAPE_S)
    profile = np.concatenate(
        [np.linspace(0, 1, down, endpoint=False), np.ones(hold), np.linspace(1, 0, up)]
    )
    while t * rate < steps:
        i = int(t * rate)
        j = min(steps, i + len(profile))
        curve[i:j] = np.maximum(curve[i:j], profile[: j - i])
        t += 0.6 + rng.exponential(_BLINK_EVERY_S - 0.6)
    edges = (np.arange(frames + 1) * rate / fps).round().astype(int)
    return np.array([curve[a : max(b, a + 1)].mean() for a, b in itertools.pairwise(edges)])


def head_motion(frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """(frames, 4) roll (rad), dx, dy (px), log-scale: slow sums of two sinusoids each."""
    t = np.arange(frames) / fps
    amplitude = np.array([0.03, 3.0, 2.0, 0.012]) * rng.uniform(0.5, 1.0, 4)
    out = np.zeros((frames, 4))
    for k in range(4):
        for _ in range(2):
            freq, phase = rng.uniform(0.15, 0.7), rng.uniform(0, 2 * np.pi)
            out[:, k] += 0.5 * amplitude[k] * np.sin(2 * np.pi * freq * t + phase)
    return out


def perform(
    phonemes: Sequence[Segment],
    duration: float,
    emotion: str,
    intensity: float,
    rng: np.random.Generator,
    fps: float = 25.0,
) -> list[FacePose]:
    """One FacePose per video frame for an utterance of `duration` seconds."""
    mouth = articulation(phonemes, duration, fps)
    frames = len(mouth)
    blinks = blink_curve(frames, fps, rng)
    head = head_motion(frames, fps, rng)
    face = {k: v * intensity for k, v in EMOTION_FACE[emotion].items()}
    jaw_offset = face.pop("jaw", 0.0)
    ramp = np.clip(np.arange(frames) / max(0.3 * fps, 1), 0.0, 1.0)  # expression sets in
    poses = []
    for f in range(frames):
        jaw, spread, round_, close, labio = (float(v) for v in mouth[f])
        poses.append(
            FacePose(
                jaw=min(jaw + jaw_offset * ramp[f] * (1 - close), 1.0),
                spread=spread,
                round=round_,
                close=close,
                labiodental=labio,
                blink=float(blinks[f]),
                head=tuple(float(v) for v in head[f]),  # type: ignore[arg-type]
                **{k: v * float(0.4 + 0.6 * ramp[f]) for k, v in face.items()},
            )
        )
    return poses
