"""Semantic-branch models: visual encoder, lip aligner, error detector and BERT refiner."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from imagintalk_plugin.nn.error_detector import ErrorDetector
from imagintalk_plugin.nn.lip_aligner import LipAligner, center_crop
from imagintalk_plugin.nn.refiner import UnitRefiner
from imagintalk_plugin.nn.visual_encoder import VisualEncoder
from imagintalk_plugin.training.presets import semantic_preset

TINY = semantic_preset("tiny")
K = TINY.aligner.num_units
SIZE = 40  # crop side for direct encoder calls (the encoder takes any size)


def _encoder(kind: str = "conformer") -> VisualEncoder:
    torch.manual_seed(0)
    return VisualEncoder(dataclasses.replace(TINY.aligner.encoder, encoder=kind)).eval()


def _refiner(seed: int = 0) -> UnitRefiner:
    torch.manual_seed(seed)
    return UnitRefiner(TINY.refiner).eval()


@pytest.mark.parametrize("frames", [1, 5, 13])
def test_visual_encoder_emits_two_steps_per_frame(frames: int) -> None:
    encoder = _encoder()
    crops = torch.rand(2, frames, SIZE, SIZE)
    with torch.no_grad():
        out = encoder(crops)
    assert out.shape == (2, 2 * frames, TINY.aligner.encoder.dim)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("kind", ["conformer", "transformer"])
def test_visual_encoder_clip_alone_equals_clip_in_padded_batch(kind: str) -> None:
    encoder = _encoder(kind)
    gen = torch.Generator().manual_seed(1)
    short, long = 4, 9
    clip_a = torch.rand(short, SIZE, SIZE, generator=gen)
    clip_b = torch.rand(long, SIZE, SIZE, generator=gen)
    batch = torch.rand(2, long, SIZE, SIZE, generator=gen)  # garbage on the padded frames
    batch[0, :short] = clip_a
    batch[1] = clip_b
    pad = torch.zeros(2, long, dtype=torch.bool)
    pad[0, short:] = True
    with torch.no_grad():
        alone_a = encoder(clip_a[None])[0]
        alone_b = encoder(clip_b[None])[0]
        batched = encoder(batch, pad)
    torch.testing.assert_close(batched[0, : 2 * short], alone_a, atol=1e-4, rtol=0)
    torch.testing.assert_close(batched[1], alone_b, atol=1e-4, rtol=0)


def test_visual_encoder_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="conformer or transformer"):
        VisualEncoder(dataclasses.replace(TINY.aligner.encoder, encoder="lstm"))


def _aligner() -> LipAligner:
    torch.manual_seed(0)
    return LipAligner(TINY.aligner)


def test_aligner_predict_tokens_confidence_and_posteriors() -> None:
    aligner = _aligner()
    frames = 3
    crops = np.random.default_rng(0).integers(0, 256, (frames, 96, 96), dtype=np.uint8)
    out = aligner.predict(crops)
    steps = 2 * frames
    assert out.tokens.shape == (steps,)
    assert out.tokens.dtype == np.int64
    assert ((out.tokens >= 0) & (out.tokens < K)).all()
    assert out.log_probs.shape == (steps, K)
    np.testing.assert_allclose(np.exp(out.log_probs).sum(-1), 1.0, atol=1e-5)
    assert out.confidence.shape == (steps,)
    assert ((out.confidence > 0) & (out.confidence <= 1)).all()
    np.testing.assert_allclose(out.confidence, np.exp(out.log_probs.max(-1)), rtol=1e-5)
    np.testing.assert_array_equal(out.tokens, out.log_probs.argmax(-1))
    assert out.features.shape == (steps, TINY.aligner.encoder.dim)


def test_aligner_predict_uses_the_centre_crop() -> None:
    aligner = _aligner()
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (2, 96, 96), dtype=np.uint8)
    out = aligner.predict(crops)
    size = TINY.aligner.encoder.crop_size
    middle = crops[:, 4 : 4 + size, 4 : 4 + size]
    again = aligner.predict(np.ascontiguousarray(middle))  # already the right size
    np.testing.assert_allclose(out.log_probs, again.log_probs, atol=1e-5)


def test_center_crop_takes_the_middle_and_rejects_small_crops() -> None:
    crops = np.arange(2 * 6 * 8).reshape(2, 6, 8)
    np.testing.assert_array_equal(center_crop(crops, 4), crops[:, 1:5, 2:6])
    with pytest.raises(ValueError, match="at least"):
        center_crop(np.zeros((2, 80, 96), dtype=np.uint8), 88)
    with pytest.raises(ValueError, match="at least"):
        _aligner().predict(np.zeros((2, 96, 64), dtype=np.uint8))


def test_error_detector_predict_gives_probabilities() -> None:
    torch.manual_seed(0)
    detector = ErrorDetector(TINY.detector)
    steps = 11
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(steps, K))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    tokens = log_probs.argmax(-1).astype(np.int64)
    confidence = np.exp(log_probs.max(-1)).astype(np.float32)
    probs = detector.predict(tokens, confidence, log_probs)
    assert probs.shape == (steps,)
    assert probs.dtype == np.float32
    assert ((probs >= 0) & (probs <= 1)).all()
    # one clip alone equals the same clip in a padded batch
    with torch.no_grad():
        batch_logits = detector(
            torch.from_numpy(np.concatenate([tokens, tokens[:3]]).reshape(1, -1)).repeat(2, 1),
            torch.from_numpy(np.concatenate([confidence, confidence[:3]])[None]).repeat(2, 1),
            torch.from_numpy(
                np.concatenate([log_probs, log_probs[:3]])[None].astype(np.float32)
            ).repeat(2, 1, 1),
            torch.tensor([[False] * steps + [True] * 3] * 2),
        )
    np.testing.assert_allclose(torch.sigmoid(batch_logits[0, :steps]).numpy(), probs, atol=1e-5)


def _lips(steps: int, seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(steps, K))
    return (logits - np.log(np.exp(logits).sum(-1, keepdims=True))).astype(np.float32)


def test_refiner_zero_lip_projection_leaves_the_language_model_unchanged() -> None:
    refiner = _refiner()
    ids = torch.randint(0, K, (2, 10), generator=torch.Generator().manual_seed(0))
    lips = torch.from_numpy(np.stack([_lips(10, 0), _lips(10, 1)]))
    with torch.no_grad():
        plain = refiner(ids)
        with_lips = refiner(ids, lips)
    assert plain.shape == (2, 10, K)
    torch.testing.assert_close(with_lips, plain, atol=0, rtol=0)
    with torch.no_grad():  # and the projection is really used once it is not zero
        refiner.lip_proj.weight.fill_(0.5)
        assert not torch.allclose(refiner(ids, lips), plain)


def test_refine_without_flags_returns_the_tokens() -> None:
    refiner = _refiner()
    tokens = np.random.default_rng(0).integers(0, K, 30)
    out = refiner.refine(tokens, np.zeros(30, dtype=bool), _lips(30), passes=2)
    np.testing.assert_array_equal(out, tokens)
    assert out is not tokens


@pytest.mark.parametrize("passes", [1, 3])
def test_refine_changes_only_flagged_positions(passes: int) -> None:
    refiner = _refiner()
    rng = np.random.default_rng(passes)
    steps = 40
    tokens = rng.integers(0, K, steps)
    flagged = rng.random(steps) < 0.4
    lips = _lips(steps)
    out = refiner.refine(tokens, flagged, lips, passes=passes)
    assert out.shape == tokens.shape
    np.testing.assert_array_equal(out[~flagged], tokens[~flagged])
    assert ((out >= 0) & (out < K)).all()
    if passes == 1:  # one pass: every flagged token is the argmax of lip log-posterior plus
        # the refiner's log-probabilities (its trained correction) with the flagged ones masked
        ids = torch.from_numpy(tokens.copy())[None]
        ids[0, torch.from_numpy(flagged)] = refiner.mask_id
        lip = torch.from_numpy(lips)[None]
        with torch.no_grad():
            fused = lip + refiner(ids, lip).log_softmax(-1)
            best = fused[0].argmax(-1).numpy()
        np.testing.assert_array_equal(out[flagged], best[flagged])


def test_refine_windows_inputs_longer_than_max_positions() -> None:
    refiner = _refiner()
    window = TINY.refiner.max_positions
    steps = 2 * window + 44
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, K, steps)
    flagged = rng.random(steps) < 0.3
    lips = _lips(steps)
    out = refiner.refine(tokens, flagged, lips, passes=2)
    assert out.shape == (steps,)
    np.testing.assert_array_equal(out[~flagged], tokens[~flagged])
    # windows are refined independently: the first window alone gives the same tokens
    first = refiner.refine(tokens[:window], flagged[:window], lips[:window], passes=2)
    np.testing.assert_array_equal(out[:window], first)


def test_refiner_never_predicts_special_ids() -> None:
    refiner = _refiner()
    with torch.no_grad():  # make [PAD] and [MASK] the model's favourite outputs
        refiner.bert.cls.predictions.bias[K:] = 1e4
    steps = 20
    tokens = np.random.default_rng(0).integers(0, K, steps)
    out = refiner.refine(tokens, np.ones(steps, dtype=bool), None, passes=3)
    assert ((out >= 0) & (out < K)).all()
    with torch.no_grad():
        assert refiner(torch.from_numpy(tokens)[None]).shape[-1] == K
