"""Kokoro speech labelled like espeak-ng's: names where both readings pair, the table where
they do not, and the last phoneme cut where the speech ends."""

import numpy as np
import pytest

from imagintalk_plugin.synth.kokoro_labels import ipa_name, speech_end, word_labels
from imagintalk_plugin.synth.visemes import visemes_of


def test_ipa_names_keep_the_stress_in_espeak_spelling() -> None:
    assert ipa_name("ˈeɪ") == "'eI"
    assert ipa_name("ˌɔːɹ") == ",O@"
    assert ipa_name("ð") == "D"
    assert ipa_name("dʒ") == "dZ"
    assert ipa_name("ʘ") == "ʘ"  # unknown: kept as it is


def test_words_keep_their_names_when_they_pair_and_use_the_table_otherwise() -> None:
    ipa = [["ð", "æ", "t"], ["ð", "ɪ"], ["w", "ˈɔːɹ", "m"], ["dʒ", "ˈuː", "l", "i", "ə"]]
    names = [["D", "a", "t", "D"], ["I2", ";"], ["w", "'O@", "m", ":", ":"],
             ["dZ", "'u:", "l", "i", ";", "@"]]  # fmt: skip
    assert word_labels(ipa, names) == [
        ["D", "a", "t"],  # the names took a phoneme of the next word: the table
        ["D", "I"],  # one name for two IPA phonemes: the table
        ["w", "'O@", "m"],  # markers dropped, the names pair
        ["dZ", "'u:", "l", "i", "@"],
    ]
    assert word_labels([["p"]], []) == [["p"]]  # no names at all: the table


def test_every_table_name_has_a_viseme_of_its_own() -> None:
    """The labels drive the synthetic face: none falls back to the generic shape."""
    from imagintalk_plugin.synth.kokoro_labels import IPA_TO_NAME

    generic = visemes_of("ʘ")
    for name in set(IPA_TO_NAME.values()) - {"?", "x"}:
        assert visemes_of(name) != generic, name


@pytest.mark.parametrize("rate", [16000, 24000])
def test_speech_end_is_the_last_loud_frame(rate: int) -> None:
    t = np.arange(int(1.5 * rate)) / rate
    samples = np.where(t < 0.8, 0.5 * np.sin(2 * np.pi * 220 * t), 1e-4).astype(np.float32)
    assert speech_end(samples, rate) == pytest.approx(0.8, abs=0.011)
    assert speech_end(np.zeros(rate, np.float32), rate) == 1.0
    assert speech_end(np.zeros(0, np.float32), rate) == 0.0
