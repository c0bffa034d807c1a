"""Speech from conditions with tiny seeded (untrained) models: seeds reproduce bit for bit,
overrides change what they should, speed changes the token count, pitch shifting moves F0 and
keeps the length, and the prosody curves come back at 100 Hz."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from imagintalk_plugin.audio import pitch_track
from imagintalk_plugin.core.signals import EMOTIONS
from imagintalk_plugin.nn.codec import MelCodec
from imagintalk_plugin.nn.face_style import ExpressionStats
from imagintalk_plugin.nn.speech_generator import SpeechGenerator
from imagintalk_plugin.nn.vocoder import Vocoder
from imagintalk_plugin.pipeline.acoustic_models import (
    CODEC_VERSION,
    StyleGenerator,
    VoiceModels,
    codec_identity,
)
from imagintalk_plugin.pipeline.voice_generation import (
    PROSODY_RATE_HZ,
    SAMPLE_RATE,
    GeneratedVoice,
    VoiceConditions,
    VoiceOverrides,
    generate_voice,
    shift_pitch,
    stretch,
    synthesize_voices,
    uses_override_dit,
    withholds_lips,
)
from imagintalk_plugin.training.acoustic_presets import acoustic_preset

PRESET = acoustic_preset("tiny")
ADAPTER, DIT = PRESET.generator.adapter, PRESET.generator.dit
HOP = PRESET.codec.mel.hop
FRAMES = 50  # 1 s of conditions at 50 Hz


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def models() -> VoiceModels:
    torch.manual_seed(0)
    codec = MelCodec(PRESET.codec).eval()
    vocoder = Vocoder(PRESET.vocoder.vocoder).eval()
    generator = SpeechGenerator(PRESET.generator).eval()
    with torch.no_grad():  # open the zero-initialised style paths, so identity matters
        for param in generator.parameters():
            if not param.any():
                param.normal_(0.0, 0.3)
    dim = ADAPTER.expression_dim
    return VoiceModels(
        codec=codec,
        vocoder=vocoder,
        generator=generator,
        codec_id=codec_identity(codec),
        expressions=ExpressionStats(np.zeros(dim, np.float32), np.ones(dim, np.float32)),
    )


@pytest.fixture(scope="module")
def conditions() -> VoiceConditions:
    rng = np.random.default_rng(0)
    return VoiceConditions(
        units=np.repeat(rng.integers(0, DIT.num_units, FRAMES // 2), 2).astype(np.int64),
        lip=rng.standard_normal((FRAMES, DIT.lip_dim)).astype(np.float32),
        face=rng.standard_normal(ADAPTER.face_dim).astype(np.float32),
        expressions=rng.standard_normal((FRAMES // 2, ADAPTER.expression_dim)).astype(np.float32),
    )


def _voice(models: VoiceModels, conditions: VoiceConditions, **overrides) -> GeneratedVoice:
    return generate_voice(models, conditions, VoiceOverrides(**overrides), PRESET.sampler)


def test_same_seed_is_bit_identical_and_another_seed_differs(models, conditions) -> None:
    first = _voice(models, conditions, seed=3)
    again = _voice(models, conditions, seed=3)
    other = _voice(models, conditions, seed=4)
    assert np.array_equal(first.codes.tokens, again.codes.tokens)
    assert np.array_equal(first.waveform.samples, again.waveform.samples)
    assert np.array_equal(first.prosody.f0_hz, again.prosody.f0_hz)
    assert not np.array_equal(first.codes.tokens, other.codes.tokens)

    tokens = first.codes.tokens
    assert tokens.shape == (DIT.levels, FRAMES)
    assert tokens.dtype == np.int64
    assert tokens.min() >= 0
    assert tokens.max() < DIT.codebook_size  # no mask id left
    assert first.codes.rate_hz == SAMPLE_RATE / HOP == 50.0
    assert first.codes.codebook_id == models.codec_id
    assert first.codes.codebook_version == CODEC_VERSION
    samples = first.waveform.samples
    assert first.waveform.sample_rate == SAMPLE_RATE
    assert samples.shape == (FRAMES * HOP,)
    assert samples.dtype == np.float32
    assert np.isfinite(samples).all()
    assert np.abs(samples).max() <= 1.0


def test_stage_path_samples_what_the_generator_itself_samples(models, conditions) -> None:
    """The flat stage wrappers (what ONNX exports) give the generator's own codes and audio."""
    voice = _voice(models, conditions, seed=5)
    t = lambda a, dtype=torch.float32: torch.as_tensor(a, dtype=dtype)[None]  # noqa: E731
    expressions = np.repeat(models.expressions.apply(conditions.expressions), 2, axis=0)
    codes = models.generator.generate(
        t(conditions.units, torch.long),
        t(conditions.lip),
        t(conditions.face),
        torch.zeros(1, ADAPTER.speaker_dim),
        torch.tensor([False]),
        torch.tensor([len(EMOTIONS)]),
        t(expressions),
        replace(PRESET.sampler, seed=5),
    )
    assert np.array_equal(voice.codes.tokens, codes[0].numpy())
    with torch.no_grad():
        audio = models.vocoder(models.codec.decode(codes))[0].numpy()
    np.testing.assert_allclose(voice.waveform.samples, np.clip(audio, -1, 1), atol=1e-6)


@pytest.mark.parametrize(("speed", "steps"), [(2.0, FRAMES // 2), (0.5, 2 * FRAMES)])
def test_speed_factor_changes_the_number_of_token_steps(
    models, conditions, speed: float, steps: int
) -> None:
    voice = _voice(models, conditions, speed_factor=speed)
    assert voice.codes.tokens.shape == (DIT.levels, steps)
    assert voice.waveform.samples.shape == (steps * HOP,)


def test_identity_overrides_change_the_output(models, conditions) -> None:
    rng = np.random.default_rng(1)
    plain = _voice(models, conditions).codes.tokens
    reference = rng.standard_normal(ADAPTER.speaker_dim).astype(np.float32)
    voiced = _voice(models, conditions, reference_voice=reference).codes.tokens
    assert voiced.shape == plain.shape
    assert not np.array_equal(voiced, plain)
    assert np.array_equal(
        voiced, _voice(models, conditions, reference_voice=reference).codes.tokens
    )
    face = rng.standard_normal(ADAPTER.face_dim).astype(np.float32)
    assert not np.array_equal(_voice(models, conditions, face=face).codes.tokens, plain)
    for emotion in EMOTIONS:
        assert _voice(models, conditions, emotion=emotion).codes.tokens.shape == plain.shape


def test_identity_overrides_withhold_the_lips_only_from_a_dit_trained_without_them(
    models, conditions
) -> None:
    """With lip dropout in training, a reference voice or another face is given no lip
    features (they would tell the clip's own voice): other lips change nothing then, while
    the clip's own identity still reads them."""
    rng = np.random.default_rng(2)
    other_lips = replace(conditions, lip=rng.standard_normal(conditions.lip.shape, np.float32))
    reference = rng.standard_normal(ADAPTER.speaker_dim).astype(np.float32)
    face = rng.standard_normal(ADAPTER.face_dim).astype(np.float32)
    dropping = replace(models, generator=SpeechGenerator(replace(PRESET.generator, lip_drop=0.5)))
    dropping.generator.load_state_dict(models.generator.state_dict())
    dropping.generator.eval()
    for override in ({"reference_voice": reference}, {"face": face}):
        assert withholds_lips(dropping, VoiceOverrides(**override))
        assert not withholds_lips(models, VoiceOverrides(**override))
        own = _voice(dropping, conditions, **override).codes.tokens
        assert np.array_equal(own, _voice(dropping, other_lips, **override).codes.tokens)
        plain = _voice(models, conditions, **override).codes.tokens
        assert not np.array_equal(plain, _voice(models, other_lips, **override).codes.tokens)
    assert not withholds_lips(dropping, VoiceOverrides(emotion="sad", seed=3))
    assert not np.array_equal(
        _voice(dropping, conditions).codes.tokens, _voice(dropping, other_lips).codes.tokens
    )


def _override_dit(models: VoiceModels) -> VoiceModels:
    """`models` with a `dit_voice` of its own weights, trained (as `train dit-voice` does) with
    lip dropout, and its own expression normalisation."""
    torch.manual_seed(1)
    generator = SpeechGenerator(replace(PRESET.generator, lip_drop=0.5)).eval()
    with torch.no_grad():
        for param in generator.parameters():
            if not param.any():
                param.normal_(0.0, 0.3)
    dim = ADAPTER.expression_dim
    stats = ExpressionStats(np.full(dim, 0.5, np.float32), np.full(dim, 2.0, np.float32))
    return replace(models, override=StyleGenerator(generator, stats))


def test_a_dit_voice_speaks_exactly_the_takes_whose_identity_is_replaced(
    models, conditions
) -> None:
    """With a `dit_voice`, a reference voice or another face goes through it (as if it were
    the only DiT, lips withheld), plain takes through the main DiT; a batch mixing both
    gives every take what it gets alone, in order."""
    rng = np.random.default_rng(3)
    both = _override_dit(models)
    assert both.override is not None
    alone = replace(
        models, generator=both.override.generator, expressions=both.override.expressions
    )
    reference = rng.standard_normal(ADAPTER.speaker_dim).astype(np.float32)
    face = rng.standard_normal(ADAPTER.face_dim).astype(np.float32)
    plain = VoiceOverrides(seed=2)
    replaced = [VoiceOverrides(reference_voice=reference, seed=2), VoiceOverrides(face=face)]
    assert not uses_override_dit(both, plain)
    assert not uses_override_dit(models, replaced[0])
    for overrides in replaced:
        assert uses_override_dit(both, overrides)
        assert withholds_lips(both, overrides)
        expected = _voice(alone, conditions, **vars(overrides)).codes.tokens
        assert np.array_equal(_voice(both, conditions, **vars(overrides)).codes.tokens, expected)
        assert not np.array_equal(
            _voice(models, conditions, **vars(overrides)).codes.tokens, expected
        )
    assert np.array_equal(
        _voice(both, conditions, seed=2).codes.tokens,
        _voice(models, conditions, seed=2).codes.tokens,
    )
    shorter = replace(
        conditions,
        units=conditions.units[:30],
        lip=conditions.lip[:30],
        expressions=conditions.expressions[:15],
    )
    items = [
        (conditions, plain),
        (shorter, replaced[0]),
        (shorter, plain),
        (conditions, replaced[1]),
    ]
    batched = synthesize_voices(both, items, PRESET.sampler)
    for (item_conditions, overrides), (samples, tokens) in zip(items, batched, strict=True):
        single = _voice(both, item_conditions, **vars(overrides))
        assert np.array_equal(tokens.tokens, single.codes.tokens)
        np.testing.assert_allclose(samples, single.waveform.samples, atol=1e-5)


def test_bad_overrides_and_conditions_are_value_errors(conditions) -> None:
    with pytest.raises(ValueError, match="emotion 'bored'"):
        VoiceOverrides(emotion="bored")
    with pytest.raises(ValueError, match="speed factor"):
        VoiceOverrides(speed_factor=5.0)
    with pytest.raises(ValueError, match="two octaves"):
        VoiceOverrides(pitch_offset_semitones=-25.0)
    with pytest.raises(ValueError, match="units"):
        VoiceConditions(
            conditions.units[:-1], conditions.lip, conditions.face, conditions.expressions
        )


def test_prosody_curves_come_at_100_hz_with_matching_lengths(models, conditions) -> None:
    plain = _voice(models, conditions)
    shifted = _voice(models, conditions, pitch_offset_semitones=5.0)
    assert shifted.waveform.samples.shape == plain.waveform.samples.shape  # timing stays
    for voice in (plain, shifted):
        prosody = voice.prosody
        assert prosody.rate_hz == PROSODY_RATE_HZ == 100.0
        frames = int(len(voice.waveform.samples) / SAMPLE_RATE * PROSODY_RATE_HZ)
        assert len(prosody.f0_hz) == len(prosody.energy_db) == len(prosody.voiced) == frames
        assert prosody.voiced.dtype == bool
        assert np.array_equal(prosody.voiced, prosody.f0_hz > 0)
        assert np.isfinite(prosody.energy_db).all()


def _sawtooth(f0: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * (2.0 * ((t * f0) % 1.0) - 1.0)).astype(np.float32)


def _median_f0(samples: np.ndarray) -> float:
    f0 = pitch_track(samples).f0_hz
    assert (f0 > 0).mean() > 0.8  # a periodic signal: voiced almost throughout
    return float(np.median(f0[f0 > 0]))


def test_shift_pitch_moves_f0_an_octave_and_keeps_the_length() -> None:
    source = _sawtooth(150.0)
    assert _median_f0(source) == pytest.approx(150.0, rel=0.02)
    up = shift_pitch(source, 12.0)
    assert up.shape == source.shape
    assert up.dtype == np.float32
    assert _median_f0(up) == pytest.approx(300.0, rel=0.03)
    down = shift_pitch(source, -7.0)
    assert down.shape == source.shape
    assert _median_f0(down) == pytest.approx(150.0 * 2 ** (-7 / 12), rel=0.03)
    assert shift_pitch(source, 0.0) is source  # no shift: untouched
    silence = np.zeros(1600, np.float32)
    assert shift_pitch(silence, 12.0) is silence


def test_stretch_is_linear_for_features_and_nearest_for_ids() -> None:
    ramp = np.array([0.0, 10.0], np.float32)
    assert np.allclose(stretch(ramp, 5), [0.0, 2.5, 5.0, 7.5, 10.0])
    assert stretch(ramp, 5).dtype == np.float32
    features = np.arange(12, dtype=np.float32).reshape(4, 3)  # (T, F): each column a ramp
    longer = stretch(features, 7)
    assert longer.shape == (7, 3)
    assert np.allclose(longer[:, 0], np.linspace(0.0, 9.0, 7))
    assert np.allclose(longer - longer[:, :1], [0.0, 1.0, 2.0])  # columns stay apart
    assert np.array_equal(stretch(features, 4), features)  # same length: unchanged
    assert np.allclose(stretch(features, 2), features[[0, 3]])  # ends are kept

    ids = np.array([4, 7, 9], np.int64)
    doubled = stretch(ids, 6, nearest=True)
    assert doubled.dtype == np.int64
    assert doubled.tolist() == [4, 4, 7, 7, 9, 9]  # ids are never blended
    assert stretch(ids, 2, nearest=True).tolist() == [4, 9]
    assert stretch(ids, 1, nearest=True).tolist() == [4]
    assert stretch(np.repeat(ids, 4), 6, nearest=True).tolist() == [4, 4, 7, 7, 9, 9]
