"""Per-frame expression features from 68 landmarks, independent of face size and head roll.

Each frame's landmarks are mapped by a similarity transform onto the mean face (in its
detector-box units, so 1.0 is about a face's width); features are then simple distances in that
frame. They drive the prosody path of the face-style adapter, so they describe what prosody
shows on a face: brows, eyes, mouth corners, jaw and lips.
"""

from __future__ import annotations

import numpy as np

from imagintalk_plugin.frontend.alignment import similarity_transform

EXPRESSION_FEATURES = (
    "brow_raise_left",  # brow above the eye, mean over the brow
    "brow_raise_right",
    "brow_furrow",  # gap between the inner brow ends
    "eye_open_left",  # eye aspect ratio (lid gap / eye width)
    "eye_open_right",
    "mouth_corner_left",  # corner height above the lip centre line (smile > 0)
    "mouth_corner_right",
    "mouth_width",  # corner to corner
    "mouth_open",  # inner-lip gap
    "jaw_open",  # nose base to chin
)

_ALIGN_POINTS = [0, 16, 27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45]  # rigid-ish points


def canonical_landmarks(landmarks: np.ndarray, mean_shape: np.ndarray) -> np.ndarray:
    """Landmarks (T, 68, 2) mapped frame by frame onto the mean face's box units."""
    out = np.empty(landmarks.shape, np.float64)
    for i, points in enumerate(landmarks):
        matrix = similarity_transform(points[_ALIGN_POINTS], mean_shape[_ALIGN_POINTS])
        out[i] = points @ matrix[:, :2].T + matrix[:, 2]
    return out


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


def expression_features(landmarks: np.ndarray, mean_shape: np.ndarray) -> np.ndarray:
    """Expression features (T, len(EXPRESSION_FEATURES)) float32; y grows downwards in input."""
    c = canonical_landmarks(np.asarray(landmarks, np.float64), mean_shape)
    y = c[..., 1]

    def eye_open(p: list[int]) -> np.ndarray:
        lids = _dist(c[:, p[1]], c[:, p[5]]) + _dist(c[:, p[2]], c[:, p[4]])
        return lids / (2.0 * np.maximum(_dist(c[:, p[0]], c[:, p[3]]), 1e-6))

    lip_line = 0.5 * (y[:, 51] + y[:, 57])
    features = [
        y[:, 36:42].mean(1) - y[:, 17:22].mean(1),
        y[:, 42:48].mean(1) - y[:, 22:27].mean(1),
        _dist(c[:, 21], c[:, 22]),
        eye_open([36, 37, 38, 39, 40, 41]),
        eye_open([42, 43, 44, 45, 46, 47]),
        lip_line - y[:, 48],
        lip_line - y[:, 54],
        _dist(c[:, 48], c[:, 54]),
        _dist(c[:, 62], c[:, 66]),
        _dist(c[:, 33], c[:, 8]),
    ]
    return np.stack(features, axis=1).astype(np.float32)


def mouth_opening(landmarks: np.ndarray, mean_shape: np.ndarray) -> np.ndarray:
    """Inner-lip gap per frame (T,), in mean-face units: the clearest speech signal."""
    return expression_features(landmarks, mean_shape)[:, EXPRESSION_FEATURES.index("mouth_open")]
