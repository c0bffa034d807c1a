import numpy as np
import pytest

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.frontend.alignment import apply_transform
from imagintalk_plugin.frontend.face_models import models_dir, read_mean_shape
from imagintalk_plugin.frontend.tracking import FaceTrack, fill_gaps, pick_speaker


@pytest.fixture(scope="module")
def mean_shape() -> np.ndarray:
    return read_mean_shape(models_dir() / "shape_predictor_68_face_landmarks.dat")


def _face(mean_shape: np.ndarray, x: float, size: float, mouth_open: float = 0.0):
    face = mean_shape.copy()
    face[65:68, 1] += mouth_open
    return apply_transform(np.array([[size, 0, x], [0, size, 50.0]]), face).astype(np.float32)


def _track(track_id, mean_shape, x, size, frames, talking):
    points = {
        t: _face(mean_shape, x, size, 0.08 * (t % 4 == 0) if talking else 0.0) for t in frames
    }
    return FaceTrack(track_id=track_id, points=points)


def test_fill_gaps_interpolates_short_runs_and_marks_long_ones_invalid():
    t = 60
    landmarks = np.repeat(np.arange(t, dtype=np.float32)[:, None, None], 68, 1).repeat(2, 2)
    missing = [*range(0, 3), *range(10, 15), *range(30, 50), *range(57, 60)]
    landmarks[missing] = np.nan
    filled, valid = fill_gaps(landmarks, max_gap=12)
    assert valid[10:15].all()
    np.testing.assert_allclose(filled[10:15, 0, 0], np.arange(10, 15))  # linear in between
    assert not valid[30:50].any()
    assert not valid[:3].any()
    assert not valid[57:].any()
    assert (filled[30:50] == 0).all()
    assert valid.sum() == t - 20 - 3 - 3


def test_the_speaking_face_is_picked_over_a_bigger_still_one(mean_shape):
    frames = range(50)
    still = _track(0, mean_shape, 20, 120, frames, talking=False)
    talker = _track(1, mean_shape, 300, 100, frames, talking=True)
    assert pick_speaker([still, talker], 50, mean_shape) is talker


def test_a_bigger_face_wins_when_both_talk_and_brief_faces_lose(mean_shape):
    small = _track(0, mean_shape, 20, 60, range(50), talking=True)
    big = _track(1, mean_shape, 300, 120, range(50), talking=True)
    brief = _track(2, mean_shape, 500, 200, range(3), talking=True)
    assert pick_speaker([small, big, brief], 50, mean_shape) is big


def test_face_override_counts_from_the_left(mean_shape):
    right = _track(0, mean_shape, 400, 100, range(50), talking=True)
    left = _track(1, mean_shape, 10, 100, range(50), talking=False)
    assert pick_speaker([right, left], 50, mean_shape, face=0) is left
    assert pick_speaker([right, left], 50, mean_shape, face=1) is right
    with pytest.raises(UsageError, match="2 face"):
        pick_speaker([right, left], 50, mean_shape, face=2)


def test_no_faces_gives_none(mean_shape):
    assert pick_speaker([FaceTrack(track_id=0)], 10, mean_shape) is None
