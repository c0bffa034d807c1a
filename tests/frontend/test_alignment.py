import numpy as np
import pytest

from imagintalk_plugin.frontend.alignment import (
    MOUTH_CROP_SIZE,
    MOUTH_MEAN,
    MOUTH_STD,
    apply_transform,
    centre_crop,
    mouth_crop_transforms,
    normalise_mouth,
    reference_landmarks,
    similarity_transform,
    smooth_landmarks,
)
from imagintalk_plugin.frontend.face_models import models_dir, read_mean_shape


@pytest.fixture(scope="module")
def mean_shape() -> np.ndarray:
    return read_mean_shape(models_dir() / "shape_predictor_68_face_landmarks.dat")


def _similarity(angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[scale * c, -scale * s, shift[0]], [scale * s, scale * c, shift[1]]])


def test_mean_shape_is_a_symmetric_face(mean_shape):
    assert mean_shape.shape == (68, 2)
    # Jaw corners mirror each other about the nose bridge; chin below mouth below nose.
    assert mean_shape[0, 0] + mean_shape[16, 0] == pytest.approx(1.0, abs=1e-3)
    assert mean_shape[0, 1] == pytest.approx(mean_shape[16, 1], abs=1e-3)
    assert mean_shape[8, 1] > mean_shape[57, 1] > mean_shape[33, 1] > mean_shape[27, 1]


def test_similarity_transform_recovers_a_known_transform(mean_shape):
    truth = _similarity(0.3, 1.7, (12.0, -5.0))
    moved = apply_transform(truth, mean_shape)
    np.testing.assert_allclose(similarity_transform(mean_shape, moved), truth, atol=1e-9)


def test_smoothing_averages_valid_frames_only():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(68, 2))
    noisy = base + rng.normal(scale=0.5, size=(40, 68, 2))
    valid = np.ones(40, bool)
    valid[10] = False
    noisy[10] = 1e6  # an invalid frame must not leak into its neighbours
    smoothed = smooth_landmarks(noisy.astype(np.float32), valid, window=12)
    assert np.abs(smoothed[valid] - base).mean() < 0.5 * np.abs(noisy[valid] - base).mean()
    assert smoothed[10, 0, 0] == pytest.approx(1e6)
    assert np.abs(smoothed[[9, 11]]).max() < 10


def test_mouth_transform_centres_the_mouth_whatever_the_pose(mean_shape):
    reference = reference_landmarks(mean_shape)
    frames = np.stack(
        [
            apply_transform(_similarity(a, s, (200.0, 90.0)), mean_shape)
            for a, s in [(0.0, 150.0), (0.4, 90.0), (-0.3, 300.0)]
        ]
    )
    transforms = mouth_crop_transforms(frames, np.ones(len(frames), bool), reference, window=1)
    sizes = []
    for matrix, points in zip(transforms, frames, strict=True):
        mouth = apply_transform(matrix, points[48:68])
        np.testing.assert_allclose(mouth.mean(0), [MOUTH_CROP_SIZE / 2] * 2, atol=1e-6)
        sizes.append(np.ptp(mouth[:, 0]))
    # Same face at any scale and roll gives the same crop geometry.
    np.testing.assert_allclose(sizes, sizes[0], rtol=1e-6)
    assert 0.4 * MOUTH_CROP_SIZE < sizes[0] < 0.9 * MOUTH_CROP_SIZE


def test_mouth_crop_follows_a_fast_moving_head_without_lag(mean_shape):
    reference = reference_landmarks(mean_shape)
    rng = np.random.default_rng(1)
    shifts = np.cumsum(rng.normal(scale=25.0, size=(60, 2)), axis=0)  # a fast, jerky head
    frames = np.stack([mean_shape * 150.0 + 300.0 + d for d in shifts])
    jitter = rng.normal(scale=1.5, size=frames.shape)
    transforms = mouth_crop_transforms(frames + jitter, np.ones(60, bool), reference)
    centres = np.stack(
        [apply_transform(m, p[48:68]).mean(0) for m, p in zip(transforms, frames, strict=True)]
    )
    offsets = np.linalg.norm(centres - MOUTH_CROP_SIZE / 2, axis=1)
    assert offsets.mean() < 1.5
    assert offsets.max() < 4.0
    # Smoothing the landmarks themselves (Auto-AVSR) lags this head by far more.
    lagging = mouth_crop_transforms(
        smooth_landmarks(frames + jitter, np.ones(60, bool)), np.ones(60, bool), reference, 1
    )
    lag = [apply_transform(m, p[48:68]).mean(0) for m, p in zip(lagging, frames, strict=True)]
    assert np.linalg.norm(np.stack(lag) - MOUTH_CROP_SIZE / 2, axis=1).mean() > 5 * offsets.mean()


def test_centre_crop_and_normalisation():
    crops = np.arange(2 * 96 * 96, dtype=np.int64).reshape(2, 96, 96) % 256
    centre = centre_crop(crops.astype(np.uint8))
    assert centre.shape == (2, 88, 88)
    assert centre[0, 0, 0] == crops[0, 4, 4]
    value = normalise_mouth(np.full((1, 2, 2), 255, np.uint8))
    assert value.dtype == np.float32
    assert value[0, 0, 0] == pytest.approx((1.0 - MOUTH_MEAN) / MOUTH_STD)
