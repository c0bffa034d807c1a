import numpy as np
import pytest

from imagintalk_plugin.frontend.alignment import apply_transform
from imagintalk_plugin.frontend.expressions import (
    EXPRESSION_FEATURES,
    expression_features,
    mouth_opening,
)
from imagintalk_plugin.frontend.face_models import models_dir, read_mean_shape


@pytest.fixture(scope="module")
def mean_shape() -> np.ndarray:
    return read_mean_shape(models_dir() / "shape_predictor_68_face_landmarks.dat")


def _pose(points: np.ndarray, angle: float, scale: float, shift: tuple[float, float]):
    c, s = np.cos(angle), np.sin(angle)
    matrix = np.array([[scale * c, -scale * s, shift[0]], [scale * s, scale * c, shift[1]]])
    return apply_transform(matrix, points)


def test_features_ignore_face_size_position_and_roll(mean_shape):
    face = mean_shape.copy()
    face[57:60, 1] += 0.05  # an open mouth, so the features are not all trivial
    poses = np.stack([_pose(face, 0.0, 100.0, (0, 0)), _pose(face, 0.35, 420.0, (900, 300))])
    features = expression_features(poses, mean_shape)
    assert features.shape == (2, len(EXPRESSION_FEATURES))
    np.testing.assert_allclose(features[0], features[1], atol=1e-4)


def test_each_feature_moves_with_its_part_of_the_face(mean_shape):
    neutral = mean_shape.copy()
    # feature -> (landmark rows, vertical shift in mean-face units; y grows downwards)
    changed = {
        "brow_raise_left": [(slice(17, 22), -0.05)],
        "eye_open_right": [(slice(43, 45), -0.02), (slice(46, 48), 0.02)],
        "mouth_corner_left": [(slice(48, 49), -0.04)],
        "mouth_open": [(slice(65, 68), 0.05)],
        "jaw_open": [(slice(5, 12), 0.06)],
    }
    base = expression_features(neutral[None], mean_shape)[0]
    for name, edit in changed.items():
        face = neutral.copy()
        for rows, dy in edit:
            face[rows, 1] += dy
        index = EXPRESSION_FEATURES.index(name)
        assert expression_features(face[None], mean_shape)[0, index] > base[index] + 0.01, name


def test_mouth_opening_is_the_inner_lip_gap(mean_shape):
    closed = mean_shape.copy()
    closed[65:68, 1] = closed[61:64, 1][::-1]
    assert mouth_opening(closed[None], mean_shape)[0] == pytest.approx(0.0, abs=1e-3)
