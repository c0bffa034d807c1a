"""Speakers without video: drawn faces follow the training faces' spread, their voices follow
the corpus's face -> voice rule, each utterance's content audio is the same words and timing
in another voice, and the same seed gives the same speech."""

from __future__ import annotations

import numpy as np
import pytest

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.espeak import EspeakVoice
from imagintalk_plugin.synth.media import LEAD_S, pad_speech
from imagintalk_plugin.synth.sentences import say
from imagintalk_plugin.synth.voice_bank import (
    FaceDistribution,
    VoiceBank,
    respoken,
    voice_only_utterances,
)
from imagintalk_plugin.synth.voices import voice_from_face


def _descriptors(count: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(-0.05, 0.08, 128)
    return base + rng.normal(0, 0.04, (count, 128)) * np.linspace(0.5, 1.5, 128)


def test_draws_follow_the_fitted_mean_and_spread() -> None:
    faces = _descriptors()
    dist = FaceDistribution.fit(faces)
    draws = np.stack([dist.sample(np.random.default_rng(i)) for i in range(3000)])
    assert draws.dtype == np.float32
    assert draws.shape == (3000, 128)
    assert np.abs(draws.mean(0) - faces.mean(0)).max() < 0.01
    ratio = draws.var(0) / faces.var(0, ddof=1)  # the diagonal is kept whole by the shrinkage
    assert 0.85 < np.median(ratio) < 1.15
    assert np.linalg.matrix_rank(draws[:200]) > len(faces)  # beyond the span of the 40 faces


def test_fit_refuses_too_few_descriptors() -> None:
    with pytest.raises(ValueError, match="N >= 2"):
        FaceDistribution.fit(np.zeros((1, 128)))
    with pytest.raises(ValueError, match="two speakers"):
        VoiceBank.draw(FaceDistribution.fit(_descriptors()), 1, 0)


def test_speakers_take_turns_and_speak_in_their_faces_voices() -> None:
    dist = FaceDistribution.fit(_descriptors())
    utts = drive(
        voice_only_utterances(
            VoiceBank.draw(dist, 2, 3), utterances=4, seed=3, emotions=("neutral",)
        )
    )
    assert [u.speaker for u in utts] == [0, 1, 0, 1]
    assert np.array_equal(utts[0].face_embedding, utts[2].face_embedding)
    assert not np.array_equal(utts[0].face_embedding, utts[1].face_embedding)
    for utt in utts:
        assert utt.voice == voice_from_face(utt.face_embedding)  # neutral: the face's own voice
        assert utt.sample_rate == 16000
        assert len(utt.words) == 6
        lead = utt.audio[: int(LEAD_S * utt.sample_rate)]
        assert np.abs(lead).max() == 0.0  # padded like a corpus clip
        assert np.abs(utt.audio).max() > 0.05  # and speech after it


def test_content_is_the_same_words_and_timing_in_another_voice() -> None:
    dist = FaceDistribution.fit(_descriptors())
    utts = drive(voice_only_utterances(VoiceBank.draw(dist, 3, 4), utterances=6, seed=4))
    for utt in utts:
        assert utt.content_speaker != utt.speaker
        assert len(utt.content_audio) == len(utt.audio)
        assert not np.array_equal(utt.content_audio, utt.audio)
        # speech and pauses fall in the same 20 ms frames: the loudness envelopes agree
        frames = len(utt.audio) // 320
        loud = [
            np.abs(a[: frames * 320]).reshape(frames, 320).max(1) > 0.02
            for a in (utt.audio, utt.content_audio)
        ]
        assert (loud[0] == loud[1]).mean() > 0.9


def test_the_same_seed_gives_the_same_speech() -> None:
    dist = FaceDistribution.fit(_descriptors())
    first = drive(voice_only_utterances(VoiceBank.draw(dist, 3, 5), utterances=3, seed=5))
    again = drive(voice_only_utterances(VoiceBank.draw(dist, 3, 5), utterances=3, seed=5))
    other = drive(voice_only_utterances(VoiceBank.draw(dist, 3, 6), utterances=3, seed=6))
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.audio, b.audio)
        assert a.emotion == b.emotion
    assert any(
        len(a.audio) != len(c.audio) or not np.array_equal(a.audio, c.audio)
        for a, c in zip(first, other, strict=True)
    )


def _loud_frames(audio: np.ndarray) -> np.ndarray:
    frames = len(audio) // 320
    return np.abs(audio[: frames * 320]).reshape(frames, 320).max(1) > 0.02


def test_respoken_words_keep_the_clips_timing_in_any_voice() -> None:
    words = ("bin", "blue", "at", "f", "two", "now")
    own = EspeakVoice("f1", pitch=55, pitch_range=51, speed=176)
    clip, _, _, _ = pad_speech(say(list(words), own, seed=0))
    # the clip's own voice gives the clip back exactly (what corpus clips are made of)
    again = respoken(words, own, speed=176, emotion="neutral", seed=0, length=len(clip))
    assert np.array_equal(again, clip)
    other = EspeakVoice("m7", pitch=29, pitch_range=44, speed=120)
    said = respoken(words, other, speed=176, emotion="sad", seed=0, length=len(clip) + 160)
    assert len(said) == len(clip) + 160
    assert not np.allclose(said[: len(clip)], clip)
    assert (_loud_frames(said[: len(clip)]) == _loud_frames(clip)).mean() > 0.9


def test_a_kokoro_bank_speaks_kokoro_and_says_the_content_again_in_step() -> None:
    """A corpus of Kokoro voices gets bank speakers in Kokoro voices (the same face -> blend
    rule as its speakers); their content audio is espeak-ng's, moved onto Kokoro's timing."""
    from imagintalk_plugin.core.errors import ModelLoadError
    from imagintalk_plugin.synth import kokoro
    from imagintalk_plugin.synth.voices import kokoro_voice_from_face

    try:
        kokoro.model_part_files()
    except ModelLoadError as exc:
        pytest.skip(f"Kokoro model packages absent (the `synth` extra): {exc}")
    if not kokoro.voices_file().exists():
        pytest.skip(f"Kokoro voices absent: {kokoro.voices_file()} (the shared folder)")
    dist = FaceDistribution.fit(_descriptors())
    bank = VoiceBank.draw(dist, 3, 4, engine="kokoro")
    assert bank.voices == [kokoro_voice_from_face(f) for f in bank.faces]
    assert bank.content_voices == VoiceBank.draw(dist, 3, 4).voices  # espeak-ng, same rule
    utts = drive(voice_only_utterances(bank, utterances=2, seed=4, emotions=("neutral",)))
    for utt in utts:
        assert utt.voice == bank.voices[utt.speaker]
        assert len(utt.content_audio) == len(utt.audio)
        # a Kokoro reading and an espeak-ng one of the same words differ by up to a second
        # in timing; moved onto the Kokoro words, speech and pauses share their frames
        assert (_loud_frames(utt.audio) == _loud_frames(utt.content_audio)).mean() > 0.8


def test_a_cache_keeps_each_utterance_and_gives_it_back(tmp_path) -> None:
    """A stage stopped while the bank is rendered goes on where it stopped: kept utterances
    are read back as they were, and another bank or seed never reads them."""
    dist = FaceDistribution.fit(_descriptors())
    bank = VoiceBank.draw(dist, 3, 4)
    fresh = drive(voice_only_utterances(bank, utterances=3, seed=4))
    first = drive(voice_only_utterances(bank, utterances=2, seed=4, cache=tmp_path))
    kept = sorted(tmp_path.rglob("*.npz"))
    assert len(kept) == 2
    again = drive(voice_only_utterances(bank, utterances=3, seed=4, cache=tmp_path))
    assert len(sorted(tmp_path.rglob("*.npz"))) == 3  # the third was made and kept
    for a, b in zip([*first, fresh[2]], again, strict=True):
        assert np.array_equal(a.audio, b.audio)
        assert np.array_equal(a.content_audio, b.content_audio)
    # a kept file is what is read: changing it shows through (so it is not made again)
    with np.load(kept[0]) as stored:
        audio, content = stored["audio"], stored["content"]
    np.savez(kept[0], audio=audio * 0.5, content=content)
    read = drive(voice_only_utterances(bank, utterances=1, seed=4, cache=tmp_path))
    assert np.allclose(read[0].audio, 0.5 * fresh[0].audio)
    other = drive(voice_only_utterances(bank, utterances=1, seed=5, cache=tmp_path))
    assert len({p.parent for p in tmp_path.rglob("*.npz")}) == 2  # its own key
    assert not np.array_equal(other[0].audio, read[0].audio)
