"""Mouth-region alignment as in Auto-AVSR / AV-HuBERT: smooth, warp to a mean face, crop.

Alignment is smoothed over about 12 frames (so the crop does not jitter), a similarity
transform maps the stable points (nose tip and eye corners) onto a mean face in a
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


def moving_average(values: np.ndarray, valid: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over `window` frames of (T, ...) values, using valid frames only.

    Invalid frames keep their input values; a valid frame averages the valid frames near it.
    """
    t = len(values)
    shape = values.shape[1:]
    flat = values.reshape(t, -1).astype(np.float64)
    weights = valid.astype(np.float64)
    csum = np.concatenate([np.zeros((1, flat.shape[1])), np.cumsum(flat * weights[:, None], 0)])
    wsum = np.concatenate([[0.0], np.cumsum(weights)])
    half = window // 2
    lo = np.clip(np.arange(t) - half, 0, t)
    hi = np.clip(np.arange(t) + (window - half), 0, t)
    count = wsum[hi] - wsum[lo]
    mean = (csum[hi] - csum[lo]) / np.maximum(count, 1.0)[:, None]
    out = np.where((valid & (count > 0))[:, None], mean, flat)
    return out.reshape((t, *shape))


def smooth_landmarks(
    landmarks: np.ndarray, valid: np.ndarray, window: int = SMOOTH_WINDOW
) -> np.ndarray:
    """Landmarks (T, 68, 2) averaged over `window` frames (Auto-AVSR's smoothing)."""
    return moving_average(landmarks, valid, window).astype(np.float32)


def mouth_crop_transforms(
    landmarks: np.ndarray,
    valid: np.ndarray,
    reference: np.ndarray,
    window: int = SMOOTH_WINDOW,
) -> np.ndarray:
    """Per-frame affines (T, 2, 3) from frame pixels to the 96x96 mouth crop.

    Auto-AVSR smooths the landmarks themselves over ~12 frames, which lags behind a moving
    head (the mouth drifts out of the crop when the head turns quickly). Here the smoothing is
    done in face coordinates instead: the warp follows the stable points of each frame, only its
    scale and roll are averaged over the window, and so is the mouth centre after the warp. Head
    motion is followed exactly; landmark jitter is still smoothed away.
    """
    stable = list(STABLE_POINTS)
    t = len(landmarks)
    raw = np.stack([similarity_transform(p[stable], reference[stable]) for p in landmarks])
    scale = np.sqrt(np.abs(np.linalg.det(raw[:, :, :2])))
    angle = np.arctan2(raw[:, 1, 0], raw[:, 0, 0])
    params = np.stack([np.log(np.maximum(scale, 1e-9)), np.cos(angle), np.sin(angle)], 1)
    log_scale, cos_a, sin_a = moving_average(params, valid, window).T
    scale, angle = np.exp(log_scale), np.arctan2(sin_a, cos_a)
    out = np.empty((t, 2, 3))
    out[:, 0, 0], out[:, 0, 1] = scale * np.cos(angle), -scale * np.sin(angle)
    out[:, 1, 0], out[:, 1, 1] = scale * np.sin(angle), scale * np.cos(angle)
    anchor = landmarks[:, stable].mean(1)
    target = reference[stable].mean(0)
    out[:, :, 2] = target - np.einsum("tij,tj->ti", out[:, :, :2], anchor)
    centre = np.stack(
        [apply_transform(m, p[MOUTH_POINTS]).mean(0) for m, p in zip(out, landmarks, strict=True)]
    )
    centre = moving_average(centre, valid, window)
    out[:, :, 2] += MOUTH_CROP_SIZE / 2.0 - centre
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
