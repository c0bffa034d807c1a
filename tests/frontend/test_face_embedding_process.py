"""The helper process that computes dlib face descriptors for the panel's process (dlib holds
the GIL for ~100 ms a face): it gives the very descriptor this process computes, and can be
turned off again."""

from __future__ import annotations

import numpy as np
import pytest

from imagintalk_plugin.frontend import face_embedding_process as helper
from imagintalk_plugin.frontend.face_models import FaceModels


@pytest.fixture
def face() -> tuple[FaceModels, np.ndarray, np.ndarray]:
    """scikit-image's astronaut (shipped in its wheel): the frame and its 68 landmarks."""
    from skimage import data

    rgb = np.ascontiguousarray(data.astronaut())
    gray = rgb.mean(axis=2).astype(np.uint8)
    models = FaceModels()
    box = max(models.detect(gray), key=lambda b: b.score)  # her face (a badge is found too)
    return models, rgb, models.landmarks(gray, box)


def test_the_helper_gives_the_descriptor_of_this_process(face) -> None:
    models, rgb, points = face
    before = helper.helper_enabled()  # a panel test in this process may have turned it on
    try:
        helper.embed_in_helper_process(False)
        assert not helper.helper_enabled()
        here = models.embed(rgb, points)
        helper.embed_in_helper_process()
        assert helper.helper_enabled()
        there = models.embed(rgb, points)
        again = models.embed(rgb, points)  # the same helper, its models already loaded
    finally:
        helper.embed_in_helper_process(before)
    assert there.shape == (128,)
    assert there.dtype == np.float32
    np.testing.assert_array_equal(there, here)
    np.testing.assert_array_equal(again, here)
    assert 0.5 < float(np.linalg.norm(here)) < 1.5
