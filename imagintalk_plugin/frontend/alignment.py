"""Mouth-region alignment as in Auto-AVSR / AV-HuBERT: smooth, warp to a mean face, crop.

Landmarks are smoothed over about 12 frames (for the warp only, so the crop does not jitter),
a similarity transform maps the stable points (nose tip and eye corners) onto a mean face in a
256x256 reference frame, and a 96x96 crop is cut around the warped mouth (points 48-67). Models
read the centre 88x88, normalised with the field's mean 0.421 and std 0.165.
"""

from __future__ import annotations

import numpy as np

MOUTH_CROP_SIZE = 96
MOUTH_INPUT_SIZE = 88
MOUTH_MEAN = 0.421
MOUTH_STD = 0.165
SMOOTH_WINDOW = 12
REFERENCE_SIZE = 256
REFERENCE_FACE_SCALE = 180.0  # the mean face's detector box, in reference pixels
STABLE_POINTS = (33, 36, 39, 42, 45)  # nose tip, eye corners: Auto-AVSR's stable points
MOUTH_POINTS = slice(48, 68)
FACE_CROP_SIZE = 128


def reference_landmarks(mean_shape: np.ndarray) -> np.ndarray:
    """The mean face placed in the 256x256 reference frame (its box centred)."""
    offset = (REFERENCE_SIZE - REFERENCE_FACE_SCALE) / 2.0
    return mean_shape * REFERENCE_FACE_SCALE + offset


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) mapping src onto dst: (2, 3).

    Umeyama's closed form; no reflection.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ d @ vt
    var = (src_c**2).sum() / len(src)
    scale = float((s * np.diag(d)).sum() / var) if var > 0 else 1.0
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - matrix[:, :2] @ src_mean
    return matrix


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (..., 2) through an affine (2, 3)."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def smooth_landmarks(
    landmarks: np.ndarray, valid: np.ndarray, window: int = SMOOTH_WINDOW
) -> np.ndarray:
    """Centred moving average over `window` frames, using valid frames only: (T, 68, 2).

    Invalid frames keep their input values; a valid frame averages the valid frames near it.
    """
    t = len(landmarks)
    weights = valid.astype(np.float64)
    values = np.where(valid[:, None, None], landmarks, 0.0).astype(np.float64)
    csum = np.concatenate([np.zeros((1, 68, 2)), np.cumsum(values, axis=0)])
    wsum = np.concatenate([[0.0], np.cumsum(weights)])
    half = window // 2
    lo = np.clip(np.arange(t) - half, 0, t)
    hi = np.clip(np.arange(t) + (window - half), 0, t)
    count = wsum[hi] - wsum[lo]
    mean = (csum[hi] - csum[lo]) / np.maximum(count, 1.0)[:, None, None]
    out = np.where((valid & (count > 0))[:, None, None], mean, landmarks)
    return out.astype(np.float32)


def mouth_crop_transforms(smoothed: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-frame affines (T, 2, 3) from frame pixels to the 96x96 mouth crop."""
    stable = list(STABLE_POINTS)
    half = MOUTH_CROP_SIZE / 2.0
    out = np.empty((len(smoothed), 2, 3))
    for i, points in enumerate(smoothed):
        matrix = similarity_transform(points[stable], reference[stable])
        centre = apply_transform(matrix, points[MOUTH_POINTS]).mean(0)
        matrix[:, 2] += half - centre
        out[i] = matrix
    return out


def warp_mouth(gray: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The 96x96 uint8 mouth crop of one frame."""
    import cv2

    return cv2.warpAffine(
        gray,
        matrix,
        (MOUTH_CROP_SIZE, MOUTH_CROP_SIZE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def face_crop_transform(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Affine (2, 3) from frame pixels to a FACE_CROP_SIZE aligned face (for the panel)."""
    matrix = similarity_transform(points[list(STABLE_POINTS)], reference[list(STABLE_POINTS)])
    scale = FACE_CROP_SIZE / REFERENCE_SIZE
    return matrix * scale


def warp_face(rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The aligned FACE_CROP_SIZE x FACE_CROP_SIZE RGB face crop."""
    import cv2

    size = (FACE_CROP_SIZE, FACE_CROP_SIZE)
    return cv2.warpAffine(rgb, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def centre_crop(crops: np.ndarray, size: int = MOUTH_INPUT_SIZE) -> np.ndarray:
    """The centre size x size of (T, H, W) crops: what the models read."""
    h, w = crops.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return crops[..., top : top + size, left : left + size]


def normalise_mouth(crops: np.ndarray) -> np.ndarray:
    """uint8 crops -> float32 (x / 255 - 0.421) / 0.165, the field's normalisation."""
    return ((crops.astype(np.float32) / 255.0) - MOUTH_MEAN) / MOUTH_STD
