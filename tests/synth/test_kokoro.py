"""Kokoro-82M voices: audio, exact timings from the durations, determinism, blends."""

import json

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
    assert kokoro_symbols("ɜː") == "ɜɹ"
    assert kokoro_symbols("ɜː", american=False) == "ɜː"
    assert KokoroVoice((("bf_emma", 0.6), ("am_adam", 0.4))).language == "en"
    assert KokoroVoice((("bf_emma", 0.4), ("am_adam", 0.6))).language == "en-us"


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


def test_similar_faces_get_similar_kokoro_voices():
    from imagintalk_plugin.synth.voices import (
        KOKORO_VOICES,
        emotional_kokoro_voice,
        kokoro_voice_from_projections,
    )

    rng = np.random.default_rng(3)
    faces = rng.standard_normal((40, 11))

    def weights(z):
        voice = kokoro_voice_from_projections(z)
        w = np.zeros(len(KOKORO_VOICES))
        for name, weight in voice.blend:
            w[KOKORO_VOICES.index(name)] = weight
        return w, voice.speed

    near, far = [], []
    for i, z in enumerate(faces):
        w, speed = weights(z)
        assert abs(w.sum() - 1) < 0.01
        assert 0.85 < speed < 1.15
        near.append(np.abs(w - weights(z + 0.05 * rng.standard_normal(11))[0]).sum())
        far.append(np.abs(w - weights(faces[(i + 1) % len(faces)])[0]).sum())
    assert np.mean(near) < 0.25 * np.mean(far)
    assert len({kokoro_voice_from_projections(z).blend[0][0] for z in faces}) >= 12
    voice = kokoro_voice_from_projections(faces[0])
    assert emotional_kokoro_voice(voice, "angry").speed > voice.speed
    assert emotional_kokoro_voice(voice, "sad").speed < voice.speed
    assert emotional_kokoro_voice(voice, "neutral") == voice
    assert emotional_kokoro_voice(voice, "happy").prosody[0] > 0
    assert emotional_kokoro_voice(voice, "sad").prosody == (-0.1, -0.3)


def test_emotion_moves_pitch_and_keeps_the_timbre():
    from imagintalk_plugin.audio import pitch_track
    from imagintalk_plugin.synth.voices import emotional_kokoro_voice

    _needs_model_and_voices()
    voice = KokoroVoice((("af_heart", 0.6), ("am_adam", 0.4)))
    styles = {e: kokoro.blend_style(emotional_kokoro_voice(voice, e)) for e in ("neutral", "sad")}
    np.testing.assert_array_equal(styles["sad"][:, :128], styles["neutral"][:, :128])
    assert not np.array_equal(styles["sad"][:, 128:], styles["neutral"][:, 128:])

    def median_f0(emotion):
        spoken = speak_kokoro(SENTENCE, emotional_kokoro_voice(voice, emotion))
        f0 = pitch_track(spoken.samples).f0_hz
        return float(np.median(f0[f0 > 0]))

    assert median_f0("surprised") > 1.05 * median_f0("sad")


@pytest.mark.slow
def test_a_kokoro_corpus_is_timed_and_the_same_with_any_number_of_workers(tmp_path):
    import hashlib

    from imagintalk_plugin.core.manifest import read_manifest
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.synth.corpus import CorpusSettings, synth_corpus

    _needs_model_and_voices()

    def build(out, jobs):
        settings = CorpusSettings(
            out=out, utterances=3, speakers=2, seed=4, jobs=jobs, voices="kokoro"
        )
        return drive(synth_corpus(settings))

    def digest(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    first, second = build(tmp_path / "a", 2), build(tmp_path / "b", 1)
    entries = read_manifest(first)
    assert len(entries) == 3
    for entry, other in zip(entries, read_manifest(second), strict=True):
        assert entry.voice.variant.startswith("kokoro:")
        assert len(entry.words) == 6
        assert entry.phonemes[-1].end <= entry.duration
        assert all(a.end <= b.start for a, b in zip(entry.words, entry.words[1:], strict=False))
        assert digest(entry.audio) == digest(other.audio)
        assert digest(entry.video) == digest(other.video)
    lines = [json.loads(x) for x in (first.parent / "speakers.jsonl").read_text().splitlines()]
    assert {line["voices"] for line in lines} == {"kokoro"}
    assert lines[0]["voice"]["variant"] != lines[1]["voice"]["variant"]


def test_labels_are_espeak_names_and_the_last_word_ends_with_the_speech():
    """Sentences whose two phonemisations split a word differently keep espeak-ng names (they
    once fell back to IPA labels, which the visemes do not know); the last phoneme no longer
    runs on over the silence after the speech (0.44 s median before)."""
    _needs_model_and_voices()
    british = KokoroVoice((("bf_alice", 0.7), ("af_nova", 0.3)), 1.0)  # read as "en"
    # a voice of the free-text corpus (fast, prosody moved), whose last phoneme is cut to
    # 40 ms, where its speech ends
    quick = KokoroVoice(
        (("bm_lewis", 0.52), ("af_nova", 0.27), ("am_puck", 0.22)), 1.25, (-0.02, 0.07)
    )
    cases = (
        ("Julia said that the warm soup was ready.", british),
        ("Nora said that the owl was hurt.", british),
        ("The doctor said that the kitten was hungry", quick),
    )
    for text, voice in cases:
        said = speak_kokoro(text, voice)
        assert all(p.label.isascii() for p in said.phonemes), [p.label for p in said.phonemes]
        frames = np.abs(said.samples[: len(said.samples) // 160 * 160]).reshape(-1, 160).max(1)
        last_loud = np.nonzero(frames > 0.05 * frames.max())[0][-1] / 100
        assert said.words[-1].end - last_loud < 0.2
        assert said.phonemes[-1].end == said.words[-1].end  # the word holds its phonemes
        assert said.phonemes[-1].end > said.phonemes[-1].start
