"""Mouth shapes from phonemes, voices from faces, emotions in the voice."""

import numpy as np
import pytest

from imagintalk_plugin.core.manifest import Segment
from imagintalk_plugin.synth.visemes import ARTICULATORS, articulation, visemes_of
from imagintalk_plugin.synth.voices import VARIANTS, emotional_voice, voice_from_face

JAW, CLOSE, ROUND = (ARTICULATORS.index(n) for n in ("jaw", "close", "round"))


def test_lips_close_for_bilabials_and_open_for_open_vowels():
    # "pa pa": 120 ms /p/, 200 ms /a/ each
    phonemes = [
        Segment("p", 0.2, 0.32),
        Segment("'a", 0.32, 0.52),
        Segment("p", 0.52, 0.64),
        Segment("a", 0.64, 0.84),
    ]
    curves = articulation(phonemes, 1.04)
    assert curves.shape == (26, len(ARTICULATORS))
    closed_frame, open_frame = int(0.26 * 25), int(0.42 * 25)
    assert curves[closed_frame, CLOSE] > 0.8
    assert curves[open_frame, JAW] > 0.6
    assert curves[open_frame, CLOSE] < 0.3
    assert curves[open_frame, JAW] > 3 * curves[closed_frame, JAW]


def test_rounded_vowels_round_and_diphthongs_move():
    u = articulation([Segment("u:", 0.1, 0.4)], 0.5)
    assert u[6, ROUND] > 0.7
    a_i = visemes_of("'aI")
    assert len(a_i) == 2
    assert a_i[0].jaw > a_i[1].jaw


def test_h_takes_the_shape_of_its_vowel():
    """Co-articulation: a weak /h/ before /u:/ is already rounded."""
    curves = articulation([Segment("h", 0.2, 0.3), Segment("u:", 0.3, 0.6)], 0.8)
    assert curves[int(0.25 * 25), ROUND] > 0.4


def _embedding(seed):
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 0.09, 128)
    return (e / np.linalg.norm(e) * 0.9).astype(np.float32)


def test_voice_is_a_deterministic_smooth_function_of_the_face():
    e = _embedding(1)
    assert voice_from_face(e) == voice_from_face(e.copy())
    near = voice_from_face(e + np.random.default_rng(2).normal(0, 0.002, 128))
    base = voice_from_face(e)
    assert near.variant == base.variant
    assert abs(near.pitch - base.pitch) <= 2
    assert abs(near.speed - base.speed) <= 2
    voices = [voice_from_face(_embedding(s)) for s in range(40)]
    assert len({v.variant for v in voices}) >= len(VARIANTS) // 2
    assert np.std([v.pitch for v in voices]) > 5


@pytest.mark.parametrize("emotion", ["happy", "surprised"])
def test_emotions_change_pitch_and_speed(emotion):
    base = voice_from_face(_embedding(3))
    raised = emotional_voice(base, emotion)
    sad = emotional_voice(base, "sad")
    assert raised.pitch > base.pitch > sad.pitch
    assert raised.pitch_range > base.pitch_range > sad.pitch_range
    assert emotional_voice(base, "angry").speed > base.speed > sad.speed
    assert emotional_voice(base, "neutral") == base
