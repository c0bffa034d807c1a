import itertools
import subprocess
import sys

import numpy as np
import pytest

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.synth.espeak import SAMPLE_RATE, EspeakVoice, speak
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


_PITCH_SCRIPT = """
import sys
import numpy as np
from imagintalk_plugin.synth.espeak import EspeakVoice, speak
x = speak("aaah", EspeakVoice(variant="m1", pitch=int(sys.argv[1]), speed=150)).samples
n = len(x)
windows = [x[i : i + 800] - x[i : i + 800].mean() for i in range(n // 5, n * 7 // 10 - 800, 400)]
lags = [40 + int(np.argmax(np.correlate(w, w, "full")[799:][40:266])) for w in windows]
print(float(np.median([16000 / lag for lag in lags])))
"""


def _pitch_in_fresh_process(pitch: int) -> float:
    run = subprocess.run(
        [sys.executable, "-c", _PITCH_SCRIPT, str(pitch)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(run.stdout)


def test_voice_settings_change_pitch_and_speed():
    assert _pitch_in_fresh_process(80) > 1.3 * _pitch_in_fresh_process(20)
    slow = speak("bin blue at f two now", EspeakVoice(speed=120))
    fast = speak("bin blue at f two now", EspeakVoice(speed=240))
    assert fast.duration < 0.75 * slow.duration


_SCRIPT = """
import hashlib
from imagintalk_plugin.synth.espeak import EspeakVoice, speak
voice = EspeakVoice(variant="f3", pitch=65, speed=170)
for text in ("bin blue at f two now", "place green in a nine please"):
    print(hashlib.sha256(speak(text, voice).samples.tobytes()).hexdigest())
"""


def test_same_calls_in_a_fresh_process_give_the_same_samples():
    """espeak-ng carries voice state from one utterance to the next (the same text said twice
    in one process differs slightly), but a fresh process making the same calls repeats them."""
    runs = [
        subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout == runs[1].stdout
    assert len(set(runs[0].stdout.split())) == 2


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
    spoken = say(sentence.split())
    assert [w.label for w in spoken.words] == [w.rstrip(".,") for w in sentence.split()]
