"""The face rig: the real landmark detector finds mouth, eyes and brows where the rig put them."""

import cv2
import numpy as np
import pytest

from imagintalk_plugin.frontend.face_models import shared_face_models
from imagintalk_plugin.synth.face_rig import FacePose, FaceRig
from imagintalk_plugin.synth.faces import load_faces


@pytest.fixture(scope="module")
def rig():
    face = next(load_faces(None))
    return FaceRig(face.image, face.landmarks)


def _detected(frame):
    models = shared_face_models()
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    boxes = models.detect(gray)
    assert boxes, "no face found in a rendered frame"
    return models.landmarks(gray, boxes[0])


def _lip_gap(points):
    return float(np.mean(points[[65, 66, 67], 1] - points[[63, 62, 61], 1]))


def test_detected_mouth_follows_the_jaw(rig):
    gaps = []
    for jaw in (0.0, 0.4, 0.8):
        frame, placed = rig.render(FacePose(jaw=jaw))
        found = _detected(frame)
        error = np.linalg.norm(found[48:68] - placed[48:68], axis=1).mean()
        assert error < 0.1 * rig.mouth_width
        gaps.append(_lip_gap(found))
    assert gaps[0] < gaps[1] < gaps[2]
    assert gaps[2] - gaps[0] > 0.2 * rig.mouth_width


def test_closure_rounding_and_smile_are_visible(rig):
    closed = _detected(rig.render(FacePose(jaw=0.8, close=1.0))[0])
    opened = _detected(rig.render(FacePose(jaw=0.8))[0])
    assert _lip_gap(closed) < 0.5 * _lip_gap(opened)
    width = lambda p: float(p[54, 0] - p[48, 0])  # noqa: E731
    rounded = _detected(rig.render(FacePose(jaw=0.2, round=1.0))[0])
    spread = _detected(rig.render(FacePose(jaw=0.2, spread=1.0))[0])
    assert width(rounded) < 0.9 * width(spread)
    corners = lambda p: float(p[[48, 54], 1].mean() - p[[51, 57], 1].mean())  # noqa: E731
    smile = _detected(rig.render(FacePose(smile=0.8))[0])
    frown = _detected(rig.render(FacePose(smile=-0.5))[0])
    assert corners(smile) < corners(frown)


def test_blinks_close_the_eyes_and_brows_rise(rig):
    eye_gap = lambda p: float(np.mean(p[[41, 40, 47, 46], 1] - p[[37, 38, 43, 44], 1]))  # noqa: E731
    neutral = _detected(rig.render(FacePose())[0])
    shut = _detected(rig.render(FacePose(blink=1.0))[0])
    assert eye_gap(shut) < 0.6 * eye_gap(neutral)
    raised = _detected(rig.render(FacePose(brow_raise=1.0, eye_open=0.4))[0])
    assert raised[17:27, 1].mean() < neutral[17:27, 1].mean() - 0.05 * rig.eye_distance


def test_head_motion_moves_the_whole_face(rig):
    _, still = rig.render(FacePose())
    frame, moved = rig.render(FacePose(head=(0.0, 6.0, -4.0, 0.0)))
    assert np.allclose((moved - still).mean(0), (6.0, -4.0), atol=0.5)
    found = _detected(frame)
    assert np.allclose((found - still).mean(0), (6.0, -4.0), atol=2.0)
