import itertools

import numpy as np
import pytest

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.espeak import SAMPLE_RATE, EspeakVoice, speak
from imagintalk_plugin.synth.sentences import (
    ADVERBS,
    COLOURS,
    COMMANDS,
    DIGITS,
    HARVARD,
    LETTERS,
    PREPOSITIONS,
    grid_sentence,
    say,
)


def _segment(audio, timed):
    return audio[int(timed.start * SAMPLE_RATE) : int(timed.end * SAMPLE_RATE)]


def _zero_crossing_rate(x):
    return float(np.mean(np.abs(np.diff(np.sign(x))) > 0))


def _f0(x):
    """Pitch by autocorrelation over 60-400 Hz."""
    x = x - x.mean()
    corr = np.correlate(x, x, "full")[len(x) - 1 :]
    lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 60
    return SAMPLE_RATE / (lo + int(np.argmax(corr[lo:hi])))


def test_audio_and_timings_are_consistent():
    spoken = speak("set white with p two soon")
    assert spoken.sample_rate == SAMPLE_RATE
    assert spoken.samples.dtype == np.float32
    assert 1.0 < spoken.duration < 3.0
    assert np.abs(spoken.samples).max() <= 1.0
    assert [w.label for w in spoken.words] == ["set", "white", "with", "p", "two", "soon"]
    times = [(t.start, t.end) for t in spoken.words]
    assert all(a < b for a, b in times)
    assert all(b1 <= a2 + 1e-9 for (_, b1), (a2, _) in itertools.pairwise(times))
    assert spoken.phonemes[0].start >= 0
    assert spoken.phonemes[-1].end <= spoken.duration + 1e-6
    # Silence before the first word, speech inside the words.
    lead = spoken.samples[: int(spoken.words[0].start * SAMPLE_RATE)]
    assert lead.size == 0 or np.sqrt(np.mean(lead**2)) < 0.01
    assert min(np.sqrt(np.mean(_segment(spoken.samples, w) ** 2)) for w in spoken.words) > 0.02


def test_phoneme_times_match_what_is_heard():
    """Fricative /s/ intervals are noisy (many zero crossings), vowel intervals are not."""
    spoken = speak("so sea saw sue says", EspeakVoice(speed=120))
    s_zcr = [
        _zero_crossing_rate(_segment(spoken.samples, p)) for p in spoken.phonemes if p.label == "s"
    ]
    vowel_zcr = [
        _zero_crossing_rate(_segment(spoken.samples, p))
        for p in spoken.phonemes
        if p.label.startswith("'")
    ]
    assert len(s_zcr) >= 4
    assert len(vowel_zcr) >= 4
    assert min(s_zcr) > 2 * max(vowel_zcr)


def _median_f0(x):
    n = len(x)
    windows = [
        x[i : i + 800] - x[i : i + 800].mean() for i in range(n // 5, n * 7 // 10 - 800, 400)
    ]
    lags = [40 + int(np.argmax(np.correlate(w, w, "full")[799:][40:266])) for w in windows]
    return float(np.median([SAMPLE_RATE / lag for lag in lags]))


def test_voice_settings_change_pitch_and_speed():
    low = speak("aaah", EspeakVoice(variant="m1", pitch=20, speed=150)).samples
    high = speak("aaah", EspeakVoice(variant="m1", pitch=80, speed=150)).samples
    assert _median_f0(high) > 1.3 * _median_f0(low)
    slow = speak("bin blue at f two now", EspeakVoice(speed=120))
    fast = speak("bin blue at f two now", EspeakVoice(speed=240))
    assert fast.duration < 0.75 * slow.duration


def test_calls_are_independent_of_what_was_said_before():
    """espeak-ng keeps state between utterances; each call loads a fresh engine, so the same
    arguments give the same samples whatever came before (pitch 20 after pitch 80 included)."""
    text, low = "bin blue at f two now", EspeakVoice(variant="m1", pitch=20)
    first = speak(text, low).samples
    speak("place green in a nine please", EspeakVoice(variant="f3", pitch=80, speed=220))
    again = speak(text, low).samples
    assert np.array_equal(first, again)
    assert not np.array_equal(first, speak(text, EspeakVoice(variant="m1", pitch=21)).samples)


def test_unknown_voice_is_a_clear_error():
    with pytest.raises(ModelLoadError, match="no such voice"):
        speak("hello", EspeakVoice(language="xx-nope"))


def test_grid_sentences_follow_the_grammar_and_letters_are_said_by_name():
    rng = np.random.default_rng(3)
    parts = (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)
    for _ in range(50):
        words = grid_sentence(rng)
        assert all(w in part for w, part in zip(words, parts, strict=True))
    spoken = say(["bin", "blue", "at", "a", "two", "now"])
    letter = spoken.words[3]
    assert letter.label == "a"
    inside = [p.label for p in spoken.phonemes if letter.start <= p.start < letter.end]
    assert inside == ["'eI"]  # the letter's name, not the article


@pytest.mark.parametrize("sentence", HARVARD)
def test_every_free_text_word_is_timed(sentence):
    """espeak-ng joins unstressed words to their neighbour; each written word still gets times."""
    spoken = say(sentence.split(), spell_letters=False)
    assert [w.label for w in spoken.words] == [w.rstrip(".,") for w in sentence.split()]
