"""Lip-shape features: the mouth's landmark geometry over time, free of head pose and face size.

The mouth crops a camera gives differ from our rendered faces' in texture, light and teeth,
but the 68 landmarks dlib finds are the same points on both (the synthetic rig moves exactly
these points). So the aligner may also read the mouth as geometry: each frame's landmarks are
mapped by a similarity transform onto dlib's mean face (`expressions.canonical_landmarks`:
rotation, scale and position of the head removed, 1.0 is about a face's width), then

- the 20 lip points and the 7 lower-jaw points, minus their mean over a centred 4 s window
  (what the mouth does, not the resting shape of this person's lips),
- five openings in face units (inner and outer lip height and width, nose to chin),
- and the frame-to-frame change of all of these (speech is motion).

Frames without a face take the nearest frame with one (zeros when none has). The aligner
normalises each feature with statistics of its training clips (`nn.visual_encoder`).
"""

from __future__ import annotations

import numpy as np

from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend.alignment import moving_average
from imagintalk_plugin.frontend.expressions import canonical_landmarks

LIP_POINTS = tuple(range(48, 68))
JAW_POINTS = tuple(range(5, 12))
SHAPE_POINTS = LIP_POINTS + JAW_POINTS
OPENINGS = ("inner_height", "inner_width", "outer_height", "outer_width", "jaw_drop")
CENTRE_WINDOW = 100  # frames (4 s at 25 fps) over which the resting shape is taken
LIP_SHAPE_DIM = 2 * (2 * len(SHAPE_POINTS) + len(OPENINGS))  # positions, openings, and deltas


def fill_missing(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T, ...) values with invalid frames replaced by the nearest valid frame's."""
    if valid.all() or not valid.any():
        return values
    index = np.arange(len(values))
    good = index[valid]
    nearest = good[np.clip(np.searchsorted(good, index), 0, len(good) - 1)]
    before = good[np.clip(np.searchsorted(good, index) - 1, 0, len(good) - 1)]
    pick = np.where(np.abs(before - index) <= np.abs(nearest - index), before, nearest)
    return values[pick]


def lip_shape_features(
    landmarks: np.ndarray, valid: np.ndarray, mean_shape: np.ndarray
) -> np.ndarray:
    """(T, LIP_SHAPE_DIM) float32 features of (T, 68, 2) frame landmarks."""
    t = len(landmarks)
    valid = np.asarray(valid, bool)
    if t == 0 or not valid.any():
        return np.zeros((t, LIP_SHAPE_DIM), np.float32)
    points = fill_missing(np.asarray(landmarks, np.float64), valid)
    canon = canonical_landmarks(points, np.asarray(mean_shape, np.float64))  # (T, 68, 2)
    shape = canon[:, list(SHAPE_POINTS)]  # (T, P, 2)
    everywhere = np.ones(t, bool)
    resting = moving_average(shape, everywhere, CENTRE_WINDOW)
    moving = (shape - resting).reshape(t, -1)

    def dist(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(canon[:, a] - canon[:, b], axis=-1)

    openings = np.stack(
        [
            (dist(61, 67) + dist(62, 66) + dist(63, 65)) / 3.0,
            dist(60, 64),
            (dist(50, 58) + dist(51, 57) + dist(52, 56)) / 3.0,
            dist(48, 54),
            dist(33, 8),
        ],
        axis=1,
    )
    static = np.concatenate([moving, openings], axis=1)  # (T, F/2)
    delta = np.gradient(static, axis=0) if t > 1 else np.zeros_like(static)
    return np.concatenate([static, delta], axis=1).astype(np.float32)


def track_lip_shape(track: LipTrack) -> np.ndarray:
    """The lip-shape features of a front-end track (dlib's mean face from the installed
    shape predictor, read from its 4 kB header)."""
    from imagintalk_plugin.frontend.face_models import PREDICTOR_FILE, models_dir, read_mean_shape

    mean_shape = read_mean_shape(models_dir() / PREDICTOR_FILE)
    return lip_shape_features(track.landmarks, track.valid, mean_shape)
