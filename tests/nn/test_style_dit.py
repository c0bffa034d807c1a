"""Style-DiT, face-style adapter, masked diffusion sampler and the speech generator."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from imagintalk_plugin.nn.face_style import AdapterConfig, FaceStyleAdapter, StyleConditioning
from imagintalk_plugin.nn.masked_diffusion import (
    SamplerSettings,
    corrupt,
    mask_ratio,
    masked_token_loss,
    sample,
)
from imagintalk_plugin.nn.speech_generator import GeneratorConfig, GeneratorInputs, SpeechGenerator
from imagintalk_plugin.nn.style_dit import DiTConfig

DIT = DiTConfig(
    levels=2,
    codebook_size=16,
    num_units=8,
    lip_dim=6,
    dim=32,
    layers=2,
    heads=2,
    ff_mult=2,
    dropout=0.0,
    style_dim=16,
)
ADAPTER = AdapterConfig(
    face_dim=4, speaker_dim=5, expression_dim=3, style_dim=16, hidden=16, smoothing_frames=5
)
TINY = GeneratorConfig(dit=DIT, adapter=ADAPTER)
L, C, K = DIT.levels, DIT.codebook_size, DIT.num_units
MASK = C
NO_EMOTION = ADAPTER.num_emotions


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _generator(seed: int = 0, perturb: bool = False) -> SpeechGenerator:
    """A tiny generator; `perturb` fills the zero-initialised tensors so every path matters."""
    torch.manual_seed(seed)
    model = SpeechGenerator(TINY).eval()
    if perturb:
        with torch.no_grad():
            for param in model.parameters():
                if not param.any():
                    param.normal_(0.0, 0.3)
    return model


def _conditions(batch: int, length: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "units": torch.randint(0, K, (batch, length), generator=gen),
        "lip": torch.randn(batch, length, DIT.lip_dim, generator=gen),
        "face": torch.randn(batch, ADAPTER.face_dim, generator=gen),
        "voice": torch.randn(batch, ADAPTER.speaker_dim, generator=gen),
        "expressions": torch.randn(batch, length, ADAPTER.expression_dim, generator=gen),
    }


def _generate(model: SpeechGenerator, length: int = 6, batch: int = 2, **settings: float):
    cond = _conditions(batch, length)
    return model.generate(
        cond["units"],
        cond["lip"],
        cond["face"],
        None,
        None,
        None,
        cond["expressions"],
        SamplerSettings(**settings),  # type: ignore[arg-type]
    )


def _style(batch: int, length: int, seed: int) -> StyleConditioning:
    gen = torch.Generator().manual_seed(seed)
    return StyleConditioning(
        identity=torch.randn(batch, DIT.style_dim, generator=gen),
        prosody=torch.randn(batch, length, DIT.style_dim, generator=gen),
        speaker=torch.zeros(batch, ADAPTER.speaker_dim),
    )


@pytest.mark.parametrize("length", [1, 9])
def test_forward_shapes(length: int) -> None:
    model = _generator()
    batch = 3
    cond = _conditions(batch, length)
    codes = torch.randint(0, C, (batch, L, length))
    ratio = torch.tensor([0.2, 0.5, 1.0])
    inputs, _ = corrupt(codes, ratio, torch.rand(batch, L, length), MASK)
    logits, speaker = model(
        GeneratorInputs(
            codes=inputs,
            units=cond["units"],
            lip=cond["lip"],
            face=cond["face"],
            voice=cond["voice"],
            voice_mask=torch.tensor([True, False, False]),
            emotion=torch.tensor([0, 3, NO_EMOTION]),
            expressions=cond["expressions"],
            ratio=ratio,
            drop_content=torch.tensor([False, True, False]),
            drop_style=torch.tensor([False, False, True]),
        )
    )
    assert logits.shape == (batch, L, length, C)
    assert speaker.shape == (batch, ADAPTER.speaker_dim)
    assert torch.isfinite(logits).all()


def test_generate_same_seed_is_bit_identical_and_another_seed_differs() -> None:
    model = _generator(perturb=True)
    first = _generate(model, length=8, seed=3)
    again = _generate(model, length=8, seed=3)
    other = _generate(model, length=8, seed=4)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("steps", [1, 2, 16, 64])
def test_any_number_of_steps_decodes_every_token(steps: int) -> None:
    model = _generator(perturb=True)
    codes = _generate(model, length=5, steps=steps)  # 10 tokens per item: 64 steps > tokens
    assert codes.shape == (2, L, 5)
    assert ((codes >= 0) & (codes < C)).all()


@pytest.mark.parametrize("guidance", [1.0, 2.0])
def test_sampler_follows_the_cosine_schedule(guidance: float) -> None:
    batch, length, steps = 2, 10, 4
    pad = torch.zeros(batch, length, dtype=torch.bool)
    pad[1, 5:] = True
    table = torch.randn(batch, L, length, C, generator=torch.Generator().manual_seed(0))
    calls: list[tuple[bool, torch.Tensor, torch.Tensor]] = []

    def logits_fn(codes: torch.Tensor, ratio: torch.Tensor, conditional: bool) -> torch.Tensor:
        share = (codes == MASK).sum((1, 2)) / (~pad).sum(1) / L
        calls.append((conditional, ratio.clone(), share))
        assert (codes[1, :, 5:] == 0).all()
        return table if conditional else table.flip(-1)

    codes = sample(
        logits_fn, batch, L, length, MASK, SamplerSettings(steps, guidance=guidance), pad
    )
    assert (codes != MASK).all()
    assert (codes[1, :, 5:] == 0).all()
    assert [c[0] for c in calls] == [True, False] * steps if guidance != 1.0 else [True] * steps
    ratios = torch.stack([c[1] for c in calls if c[0]])  # (steps, B)
    shares = torch.stack([c[2] for c in calls if c[0]])
    torch.testing.assert_close(ratios, shares.float())
    for step in range(steps):
        for item, tokens in enumerate((2 * length, 2 * 5)):
            left = math.floor(tokens * mask_ratio(torch.tensor(step / steps)).item())
            assert round(ratios[step, item].item() * tokens) == left


def test_temperature_zero_is_greedy_and_padding_ends_as_zero() -> None:
    model = _generator(perturb=True)
    cond = _conditions(2, 7)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[0, 4:] = True
    runs = [
        model.generate(
            cond["units"],
            cond["lip"],
            cond["face"],
            None,
            None,
            torch.tensor([1, NO_EMOTION]),
            cond["expressions"],
            SamplerSettings(steps=4, temperature=0.0, choice_temperature=0.0, seed=seed),
            pad=pad,
        )
        for seed in (0, 1)
    ]
    assert torch.equal(runs[0], runs[1])  # nothing random is left
    assert (runs[0][0, :, 4:] == 0).all()
    assert (runs[0] != MASK).all()


def test_missing_conditions_and_shape_mismatches_are_value_errors() -> None:
    model = _generator()
    cond = _conditions(2, 5)
    settings = SamplerSettings(steps=2)
    args = [cond["units"], cond["lip"], cond["face"], None, None, None, None, settings]
    for index, name in ((0, "units"), (1, "lip")):
        broken = list(args)
        broken[index] = None
        with pytest.raises(ValueError, match=name):
            model.generate(*broken)
    with pytest.raises(ValueError, match="face or a voice"):
        model.generate(cond["units"], cond["lip"], None, None, None, None, None, settings)
    with pytest.raises(ValueError, match="face is None"):
        model.adapter(
            None, cond["voice"], torch.tensor([True, False]), torch.zeros(2).long(), None, None
        )
    with pytest.raises(ValueError, match="voice is None"):
        model.adapter(
            cond["face"], None, torch.tensor([True, False]), torch.zeros(2).long(), None, None
        )
    codes = torch.full((2, L, 5), MASK)
    style, ratio = _style(2, 5, 0), torch.ones(2)
    with pytest.raises(ValueError, match="units"):
        model.dit(codes, cond["units"][:, :4], cond["lip"], style, ratio)
    with pytest.raises(ValueError, match="lip"):
        model.dit(codes, cond["units"], torch.zeros(2, 5, DIT.lip_dim + 1), style, ratio)
    with pytest.raises(ValueError, match="style_dim"):
        GeneratorConfig(dit=DIT, adapter=dataclasses.replace(ADAPTER, style_dim=8))


def test_at_init_the_output_ignores_style_and_ratio_but_not_content() -> None:
    model = _generator()
    batch, length = 2, 6
    cond = _conditions(batch, length)
    codes, _ = corrupt(
        torch.randint(0, C, (batch, L, length)),
        torch.full((batch,), 0.5),
        torch.rand(batch, L, length),
        MASK,
    )

    def logits(style: StyleConditioning, ratio: float, **kwargs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model.dit(
                codes, cond["units"], cond["lip"], style, torch.full((batch,), ratio), **kwargs
            )

    base = logits(_style(batch, length, 0), 0.5)
    torch.testing.assert_close(logits(_style(batch, length, 1), 0.9), base, rtol=0, atol=0)
    dropped = logits(_style(batch, length, 1), 0.5, drop_style=torch.ones(batch, dtype=torch.bool))
    torch.testing.assert_close(dropped, base, rtol=0, atol=0)
    no_content = logits(
        _style(batch, length, 0), 0.5, drop_content=torch.ones(batch, dtype=torch.bool)
    )
    assert not torch.allclose(no_content, base)


def test_prosody_follows_expressions_over_time() -> None:
    # the adapter's smoothing (a moving average at init) turns a step into a ramp
    torch.manual_seed(0)
    adapter = FaceStyleAdapter(ADAPTER)
    length, step, k = 20, 10, ADAPTER.smoothing_frames
    expressions = torch.zeros(1, length, ADAPTER.expression_dim)
    expressions[:, step:] = 1.0
    with torch.no_grad():
        prosody = adapter.prosody(expressions, None)[0]  # (T, S)
    delta = prosody[1:] - prosody[:-1]  # (T-1, S)
    jump = prosody[-k] - prosody[k - 1]  # the whole step, away from the edges
    ramp = range(step - k // 2 - 1, step + k // 2)  # differences inside the ramp
    for t in range(k, length - k):
        expected = jump / k if t in ramp else torch.zeros_like(jump)
        torch.testing.assert_close(delta[t], expected, atol=1e-6, rtol=0)
    # and the DiT hears it once its zero-initialised paths are open
    model = _generator(perturb=True)
    cond = _conditions(1, length)
    late = cond["expressions"].clone()
    late[:, 15:] += 1.0

    def logits(expr: torch.Tensor) -> torch.Tensor:
        inputs = GeneratorInputs(
            codes=torch.full((1, L, length), MASK),
            units=cond["units"],
            lip=cond["lip"],
            face=cond["face"],
            voice=None,
            voice_mask=None,
            emotion=torch.tensor([NO_EMOTION]),
            expressions=expr,
            ratio=torch.ones(1),
        )
        with torch.no_grad():
            return model(inputs)[0]

    assert not torch.allclose(logits(cond["expressions"]), logits(late))


def test_voice_mask_picks_the_identity_source() -> None:
    torch.manual_seed(0)
    adapter = FaceStyleAdapter(ADAPTER)
    cond, other = _conditions(2, 3, 0), _conditions(2, 3, 1)
    mask = torch.tensor([True, False])
    emotion = torch.tensor([NO_EMOTION, 2])
    with torch.no_grad():
        a = adapter(cond["face"], cond["voice"], mask, emotion, None, None)
        new_face = adapter(other["face"], cond["voice"], mask, emotion, None, None)
        new_voice = adapter(cond["face"], other["voice"], mask, emotion, None, None)
        voice_only = adapter(None, cond["voice"], None, emotion, None, None)  # no mask: voice
    assert a.prosody is None
    torch.testing.assert_close(new_face.identity[0], a.identity[0])  # item 0 reads the voice
    assert not torch.allclose(new_face.identity[1], a.identity[1])
    torch.testing.assert_close(new_voice.identity[1], a.identity[1])  # item 1 reads the face
    assert not torch.allclose(new_voice.identity[0], a.identity[0])
    torch.testing.assert_close(voice_only.identity[0], a.identity[0])


def test_clip_alone_equals_clip_in_padded_batch() -> None:
    model = _generator(perturb=True)
    short, long = 5, 9
    cond = _conditions(2, long, seed=2)
    codes = torch.randint(0, C, (2, L, long))
    codes[:, :, ::3] = MASK
    ratio = torch.tensor([0.4, 0.7])
    pad = torch.zeros(2, long, dtype=torch.bool)
    pad[0, short:] = True

    def run(index: slice, length: int, pad: torch.Tensor | None) -> torch.Tensor:
        inputs = GeneratorInputs(
            codes=codes[index, :, :length],
            units=cond["units"][index, :length],
            lip=cond["lip"][index, :length],
            face=cond["face"][index],
            voice=None,
            voice_mask=None,
            emotion=torch.tensor([1, NO_EMOTION])[index],
            expressions=cond["expressions"][index, :length],
            ratio=ratio[index],
            pad=pad,
        )
        with torch.no_grad():
            return model(inputs)[0]

    batched = run(slice(0, 2), long, pad)
    torch.testing.assert_close(
        batched[:1, :, :short], run(slice(0, 1), short, None), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(batched[1:], run(slice(1, 2), long, None), atol=1e-5, rtol=0)


def test_corrupt_masks_about_ratio_and_never_padding() -> None:
    gen = torch.Generator().manual_seed(0)
    batch, length = 3, 400
    codes = torch.randint(0, C, (batch, L, length), generator=gen)
    noise = torch.rand(batch, L, length, generator=gen)
    ratio = torch.tensor([0.0, 0.3, 0.9])
    pad = torch.zeros(batch, length, dtype=torch.bool)
    pad[1, 300:] = True
    inputs, masked = corrupt(codes, ratio, noise, MASK, pad)
    again, masked_again = corrupt(codes, ratio, noise, MASK, pad)
    assert torch.equal(inputs, again)
    assert torch.equal(masked, masked_again)
    assert not masked[:, :, 300:][1].any()
    assert (inputs[1, :, 300:] == 0).all()
    valid = ~pad[:, None, :].expand_as(masked)
    assert torch.equal(inputs[masked], torch.full_like(inputs[masked], MASK))
    assert torch.equal(inputs[valid & ~masked], codes[valid & ~masked])
    share = masked.sum((1, 2)).float() / valid.sum((1, 2))
    torch.testing.assert_close(share, ratio, atol=0.04, rtol=0)


def test_mask_ratio_and_loss() -> None:
    progress = torch.tensor([0.0, 0.5, 1.0])
    torch.testing.assert_close(mask_ratio(progress), torch.tensor([1.0, 2**-0.5, 0.0]))
    logits = torch.randn(2, L, 3, C)
    targets = torch.randint(0, C, (2, L, 3))
    masked = torch.zeros(2, L, 3, dtype=torch.bool)
    masked[0, 1, 2] = masked[1, 0, 0] = True
    loss, count = masked_token_loss(logits, targets, masked)
    expected = -(
        logits[0, 1, 2].log_softmax(-1)[targets[0, 1, 2]]
        + logits[1, 0, 0].log_softmax(-1)[targets[1, 0, 0]]
    )
    torch.testing.assert_close(loss, expected)
    assert int(count) == 2
    empty, none = masked_token_loss(logits, targets, torch.zeros_like(masked))
    assert float(empty) == 0.0
    assert int(none) == 0


def test_training_on_a_toy_task_lowers_the_loss_and_generate_reproduces_it() -> None:
    # code of level l at frame t = (units[t] * (l + 1)) % C: the units say everything
    model = _generator(seed=1).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    batch, length = 16, 10
    level_factor = torch.arange(1, L + 1)[None, :, None]

    def toy(units: torch.Tensor) -> torch.Tensor:
        return (units[:, None, :] * level_factor) % C  # (B, L, T)

    losses = []
    for _ in range(60):
        cond = _conditions(batch, length, seed=int(rng.integers(1 << 30)))
        ratio = torch.from_numpy(rng.uniform(0.05, 1.0, batch)).float()
        noise = torch.from_numpy(rng.random((batch, L, length))).float()
        codes = toy(cond["units"])
        inputs, masked = corrupt(codes, ratio, noise, MASK)
        logits, _ = model(
            GeneratorInputs(
                codes=inputs,
                units=cond["units"],
                lip=cond["lip"],
                face=cond["face"],
                voice=cond["voice"],
                voice_mask=torch.from_numpy(rng.random(batch) < TINY.voice_share),
                emotion=torch.full((batch,), NO_EMOTION),
                expressions=cond["expressions"],
                ratio=ratio,
                drop_content=torch.from_numpy(rng.random(batch) < TINY.content_drop),
                drop_style=torch.from_numpy(rng.random(batch) < TINY.style_drop),
            )
        )
        loss, count = masked_token_loss(logits, codes, masked)
        loss = loss / count.clamp_min(1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:5])  # ~2.6 -> ~0.15

    cond = _conditions(4, 12, seed=123)
    generated = model.generate(
        cond["units"],
        cond["lip"],
        cond["face"],
        None,
        None,
        None,
        cond["expressions"],
        SamplerSettings(steps=8, guidance=2.0, seed=0),
    )
    accuracy = (generated == toy(cond["units"])).float().mean()
    assert accuracy > 0.9
