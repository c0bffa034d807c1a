"""Kokoro-82M voices: audio, exact timings from the durations, determinism, blends."""

import numpy as np
import pytest

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.espeak import SAMPLE_RATE, ipa_words
from imagintalk_plugin.synth import kokoro
from imagintalk_plugin.synth.kokoro import KokoroVoice, kokoro_symbols, speak_kokoro


def _needs_model_and_voices():
    try:
        kokoro.model_part_files()
    except ModelLoadError as exc:
        pytest.skip(f"Kokoro model packages absent (the `synth` extra): {exc}")
    if not kokoro.voices_file().exists():
        pytest.skip(
            f"Kokoro voices absent: {kokoro.voices_file()} (the shared folder beside the "
            "repository, or $IMAGINTALK_KOKORO_VOICES)"
        )


SENTENCE = "Place the blue box on the table, then smile at her."


@pytest.fixture(scope="module")
def spoken():
    _needs_model_and_voices()
    return speak_kokoro(SENTENCE, KokoroVoice((("af_heart", 1.0),), 1.0))


def test_ipa_words_and_kokoro_symbols():
    words = ipa_words("say the time")
    assert [len(w) > 0 for w in words] == [True] * len(words)
    assert kokoro_symbols("ˈeɪ") == "ˈA"
    assert kokoro_symbols("dʒ") == "ʤ"
    assert kokoro_symbols("uː") == "u"  # no length marks in American English
    assert kokoro_symbols("uː", american=False) == "uː"


def test_merged_function_words_get_their_own_phonemes():
    phonemes = kokoro.word_phonemes(["put", "it", "on", "the", "table"])
    assert len(phonemes) == 5
    assert all(phonemes)
    assert "".join(phonemes[3]).endswith("ə")  # "the", said with "on" as one word


def test_words_in_order_inside_the_audio(spoken):
    assert spoken.sample_rate == SAMPLE_RATE
    assert spoken.samples.dtype == np.float32
    assert 1.5 < spoken.duration < 6.0
    expected = [w.strip(",.") for w in SENTENCE.split()]
    assert [w.label for w in spoken.words] == expected
    ends = [0.0]
    for word in spoken.words:
        assert ends[-1] <= word.start < word.end <= spoken.duration + 1e-9
        ends.append(word.end)
    for a, b in zip(spoken.phonemes, spoken.phonemes[1:], strict=False):
        assert a.start < a.end <= b.start
    # every word's span holds its phonemes and is voiced, the leading pause is quiet
    for word in spoken.words:
        inside = [p for p in spoken.phonemes if word.start <= p.start < word.end]
        assert inside
        assert inside[-1].end <= word.end + 1e-9
        part = spoken.samples[int(word.start * SAMPLE_RATE) : int(word.end * SAMPLE_RATE)]
        assert np.sqrt(np.mean(part**2)) > 0.01
    lead = spoken.samples[: int(spoken.words[0].start * SAMPLE_RATE) - 800]
    assert np.sqrt(np.mean(lead**2)) < 0.01


def test_durations_cover_the_audio_exactly():
    _needs_model_and_voices()
    voice = KokoroVoice((("am_adam", 1.0),), 1.0)
    fast = speak_kokoro("bin blue at f two now", KokoroVoice(voice.blend, 1.3))
    slow = speak_kokoro("bin blue at f two now", voice)
    assert fast.duration < slow.duration
    # 600-sample frames at 24 kHz: every time is a multiple of 25 ms
    for seg in slow.words + slow.phonemes:
        assert abs(seg.start / 0.025 - round(seg.start / 0.025)) < 1e-6
    # 24 kHz -> 16 kHz: the length is the frames' total, resampled
    assert abs(slow.duration * 40 - round(slow.duration * 40)) < 1e-6


def test_same_arguments_same_bytes(spoken):
    again = speak_kokoro(SENTENCE, KokoroVoice((("af_heart", 1.0),), 1.0))
    assert again.samples.tobytes() == spoken.samples.tobytes()
    assert again.words == spoken.words
    assert again.phonemes == spoken.phonemes


def test_a_blend_differs_from_its_parts():
    _needs_model_and_voices()
    a = KokoroVoice((("af_heart", 1.0),))
    b = KokoroVoice((("am_michael", 1.0),))
    mix = KokoroVoice((("af_heart", 0.5), ("am_michael", 0.5)))
    styles = [kokoro.blend_style(v) for v in (a, b, mix)]
    np.testing.assert_allclose(styles[2], (styles[0] + styles[1]) / 2, atol=1e-6)
    text = "bin blue at f two now"
    rendered = [speak_kokoro(text, v).samples for v in (a, b, mix)]
    for part in rendered[:2]:
        n = min(len(part), len(rendered[2]))
        assert not np.array_equal(part[:n], rendered[2][:n])


def test_unknown_voice_is_refused():
    _needs_model_and_voices()
    with pytest.raises(ValueError, match="no Kokoro voice"):
        kokoro.blend_style(KokoroVoice((("xx_nobody", 1.0),)))
