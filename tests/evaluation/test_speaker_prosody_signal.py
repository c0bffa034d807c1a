"""Speaker similarity, prosody and signal judges on espeak-ng speech with known differences."""

from __future__ import annotations

import numpy as np
import pytest
from evaluation_fixtures import VOICES, write_wav

from imagintalk_plugin.audio import SpeakerEncoder, cosine, load_audio, pitch_track
from imagintalk_plugin.espeak import EspeakVoice
from imagintalk_plugin.evaluation.prosody import compare_pitch
from imagintalk_plugin.evaluation.signal_quality import (
    intelligibility_indices,
    mel_cepstral_distortion,
)
from imagintalk_plugin.synth.sentences import say

A = ["bin", "blue", "at", "f", "two", "now"]
B = ["place", "red", "with", "s", "six", "please"]
C = ["lay", "green", "by", "k", "nine", "again"]


def _noisy(samples: np.ndarray, snr_db: float) -> np.ndarray:
    noise = np.random.default_rng(0).standard_normal(len(samples))
    scale = np.sqrt(np.mean(samples**2) / 10 ** (snr_db / 10))
    return (samples + scale * noise).astype(np.float32)


def test_same_voice_is_more_similar_than_a_different_voice(encoder: SpeakerEncoder) -> None:
    """Each line against its own voice's other lines and against the other voices' lines."""
    lines = (A, B, C)
    emb = {name: [encoder.embed(say(w, VOICES[name]).samples) for w in lines] for name in VOICES}
    for name in VOICES:
        for i in range(len(lines)):
            own = cosine(emb[name][i], sum(e for j, e in enumerate(emb[name]) if j != i))
            others = [cosine(emb[name][i], sum(emb[other])) for other in VOICES if other != name]
            assert own > 0.75
            assert own > max(others) + 0.05, (name, i, own, others)
    assert cosine(emb["s01"][0], emb["s01"][0]) == pytest.approx(1.0, abs=1e-5)


def test_identical_audio_has_perfect_prosody_and_a_pitch_shift_does_not() -> None:
    voice = VOICES["s01"]
    reference = say(A, voice).samples
    same = compare_pitch(pitch_track(reference), pitch_track(reference.copy()))
    assert same["f0_rmse_hz"] == 0.0
    assert same["f0_corr"] == pytest.approx(1.0)
    assert same["vuv_error"] == 0.0
    assert same["energy_corr"] == pytest.approx(1.0)

    higher = say(A, EspeakVoice(voice.variant, voice.pitch + 40, voice.pitch_range, voice.speed))
    shifted = compare_pitch(pitch_track(reference), pitch_track(higher.samples))
    assert shifted["f0_rmse_hz"] > 25.0
    assert shifted["f0_corr"] > 0.3  # the same intonation, higher
    assert shifted["vuv_error"] < 0.2

    other_sentence = compare_pitch(pitch_track(reference), pitch_track(say(C, voice).samples))
    assert other_sentence["energy_corr"] < 0.9 * same["energy_corr"]


def test_pitch_track_finds_the_voice_pitch() -> None:
    low = pitch_track(say(A, VOICES["s03"]).samples)
    high = pitch_track(say(A, VOICES["s02"]).samples)
    assert 60 < np.median(low.f0_hz[low.voiced]) < np.median(high.f0_hz[high.voiced]) < 400
    assert 0.3 < low.voiced.mean() < 0.95


def test_stoi_is_one_for_identical_audio_and_lower_for_noisy() -> None:
    clean = say(B, VOICES["s02"]).samples
    assert intelligibility_indices(clean, clean.copy()) == pytest.approx((1.0, 1.0), abs=1e-6)
    stoi_10, estoi_10 = intelligibility_indices(clean, _noisy(clean, 10))
    stoi_0, estoi_0 = intelligibility_indices(clean, _noisy(clean, 0))
    assert 1.0 > stoi_10 > stoi_0
    assert 1.0 > estoi_10 > estoi_0
    assert intelligibility_indices(clean, clean[: len(clean) // 2])[0] < stoi_10  # cut short


def test_mcd_is_zero_for_identical_audio_and_grows_with_difference() -> None:
    clean = say(B, VOICES["s02"]).samples
    assert mel_cepstral_distortion(clean, clean.copy()) == pytest.approx(0.0, abs=1e-9)
    noisy = mel_cepstral_distortion(clean, _noisy(clean, 10))
    other_voice = mel_cepstral_distortion(clean, say(B, VOICES["s03"]).samples)
    assert noisy > 0.5
    assert 2.0 < other_voice < 15.0  # the usual MCD range between voices


def test_audio_is_mixed_and_resampled_to_16k(tmp_path) -> None:
    clean = say(A, VOICES["s01"]).samples
    import soxr

    at_44k = soxr.resample(clean, 16000, 44100)
    path = write_wav(tmp_path / "x.wav", at_44k, rate=44100)
    back = load_audio(path)
    assert abs(len(back) - len(clean)) <= 2
    n = min(len(back), len(clean))
    assert np.corrcoef(back[:n], clean[:n])[0, 1] > 0.99
