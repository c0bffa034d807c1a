"""Training the tiny acoustic stages through the shared loop: codec, vocoder GAN and Style-DiT
losses fall on toy data, checkpoints reload bit-exactly, the DiT's per-item draws are pure and
never mask padding, and an interrupted DiT run resumes to the same weights."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from acoustic_fixtures import toy_voice_items
from safetensors.torch import load_file
from semantic_fixtures import toy_corpus

from imagintalk_plugin.core.errors import CancelledError, ModelLoadError, UsageError
from imagintalk_plugin.core.progress import CancelToken, Progress, drive
from imagintalk_plugin.nn.checkpoint import load_module
from imagintalk_plugin.nn.codec import CODEC_KIND, CodecConfig, MelCodec
from imagintalk_plugin.nn.mel import LogMel
from imagintalk_plugin.nn.speech_generator import DIT_KIND, GeneratorConfig, SpeechGenerator
from imagintalk_plugin.training.acoustic_presets import acoustic_preset
from imagintalk_plugin.training.loops.codec_training import codec_scores, codec_stage
from imagintalk_plugin.training.loops.corpus import SemanticCorpus
from imagintalk_plugin.training.loops.distributed import DistributedContext
from imagintalk_plugin.training.loops.dit_training import (
    ItemDraws,
    dit_scores,
    dit_stage,
    draw,
    generator_batch,
)
from imagintalk_plugin.training.loops.loop import run_stage
from imagintalk_plugin.training.loops.vocoder_training import (
    VOCODER_GAN_KIND,
    VocoderGAN,
    VocoderGANConfig,
    vocoder_scores,
    vocoder_stage,
)
from imagintalk_plugin.training.presets import semantic_preset
from imagintalk_plugin.training.request import with_steps

PRESET = acoustic_preset("tiny")
GEN = PRESET.generator
CTX = DistributedContext()
SIZE = 2 * PRESET.dit_train.max_frames  # the DiT's crop, in 50 Hz frames


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus() -> SemanticCorpus:
    return toy_corpus()


def _audio(corpus: SemanticCorpus, split: str) -> list[np.ndarray]:
    return [u.audio for u in corpus.split(split)]


def _losses(steps: list[Progress], stage: str) -> list[float]:
    return [float(s.message.split()[1]) for s in steps if s.stage == stage and s.message]


def _quick(base, steps: int, **changes: object):
    return replace(base, steps=steps, eval_every=steps, save_every=steps, warmup=3, **changes)


# --- codec --------------------------------------------------------------------------------


def test_codec_loss_falls_and_the_checkpoint_reloads_bit_exactly(corpus, tmp_path: Path) -> None:
    valid = _audio(corpus, "valid")
    stage = codec_stage(
        PRESET.codec,
        _quick(PRESET.codec_train, 40),
        _audio(corpus, "train"),
        valid,
        meta={"note": "toy"},
    )
    mel = LogMel(PRESET.codec.mel)
    before = codec_scores(stage.model, mel, valid)  # type: ignore[arg-type]
    seen: list[Progress] = []
    result = drive(run_stage(stage, tmp_path, CTX), seen.append)
    losses = _losses(seen, "codec")
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5])
    after = codec_scores(stage.model, mel, valid)  # type: ignore[arg-type]
    assert after["mel_l1"] < 0.8 * before["mel_l1"]
    assert 0.0 < after["codes_used"] <= 1.0
    assert result["history"][-1]["valid_mel_l1"] == pytest.approx(after["mel_l1"])

    loaded, meta = load_module(tmp_path, CODEC_KIND, CodecConfig, MelCodec)
    assert meta["step"] == 40
    assert meta["complete"]
    assert meta["note"] == "toy"
    for name, tensor in stage.model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    clip = torch.from_numpy(corpus.split("test")[0].audio)[None]
    with torch.no_grad():
        mels = mel(clip)
        codes = stage.model.encode(mels)  # type: ignore[operator]
        assert torch.equal(codes, loaded.encode(mels))
        assert torch.equal(stage.model.decode(codes), loaded.decode(codes))  # type: ignore[operator]


# --- vocoder ------------------------------------------------------------------------------


def test_vocoder_gan_lowers_the_mel_error_and_saves_both_players(corpus, tmp_path: Path) -> None:
    torch.manual_seed(1)
    codec = MelCodec(PRESET.codec)  # untrained: its reconstructions feed half of the items
    valid = _audio(corpus, "valid")
    stage = vocoder_stage(
        PRESET.vocoder,
        _quick(PRESET.vocoder_train, 30),
        _audio(corpus, "train"),
        valid,
        codec,
        PRESET.vocoder_seconds,
        meta={"codec_id": "toy"},
    )
    assert isinstance(stage.model, VocoderGAN)
    mel = LogMel(PRESET.vocoder.vocoder.mel)
    before = vocoder_scores(stage.model.generator, mel, valid, codec)
    seen: list[Progress] = []
    result = drive(run_stage(stage, tmp_path, CTX), seen.append)
    losses = _losses(seen, "vocoder")
    assert len(losses) == 30
    assert np.isfinite(losses).all()
    after = vocoder_scores(stage.model.generator, mel, valid, codec)
    assert set(after) == {"mel_l1_true_mel", "mel_l1_codec_mel"}
    assert after["mel_l1_true_mel"] < 0.85 * before["mel_l1_true_mel"]
    final = result["history"][-1]
    assert final["valid_mel_l1_true_mel"] == pytest.approx(after["mel_l1_true_mel"])
    assert "valid_mel_l1_codec_mel" in final

    weights = load_file(str(tmp_path / "model.safetensors"))
    players = {name.split(".")[0] for name in weights}
    assert players == {"generator", "discriminator"}
    assert weights.keys() == stage.model.state_dict().keys()
    loaded, meta = load_module(tmp_path, VOCODER_GAN_KIND, VocoderGANConfig, VocoderGAN)
    assert meta["codec_id"] == "toy"
    for name, tensor in stage.model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name


# --- Style-DiT ----------------------------------------------------------------------------


def _dit_stage(steps: int, **train: object):
    settings = replace(PRESET.dit_train, steps=steps, warmup=3, **train)
    return dit_stage(
        GEN,
        settings,
        toy_voice_items(GEN, 16, seed=0),
        toy_voice_items(GEN, 6, seed=1),
        meta={"codec_id": "toy"},
    )


def test_dit_loss_falls_and_masked_tokens_are_learned(tmp_path: Path) -> None:
    stage = _dit_stage(40, eval_every=40, save_every=40)
    valid = toy_voice_items(GEN, 6, seed=1)
    assert isinstance(stage.model, SpeechGenerator)
    before = dit_scores(stage.model, valid, SIZE)
    seen: list[Progress] = []
    result = drive(run_stage(stage, tmp_path, CTX), seen.append)
    losses = _losses(seen, "style-dit")
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5])
    after = dit_scores(stage.model, valid, SIZE)
    chance = 1.0 / GEN.dit.codebook_size
    assert before["masked_token_acc"] < 2 * chance
    assert after["masked_token_acc"] > 4 * chance  # the units tell the tokens
    assert after["masked_token_acc_level0"] > 4 * chance
    assert after["masked_token_loss"] < before["masked_token_loss"]
    assert -1.0 <= after["speaker_cosine"] <= 1.0
    assert dit_scores(stage.model, valid, SIZE) == after  # fixed masks: a stable yardstick
    assert result["history"][-1]["valid_masked_token_acc"] == pytest.approx(
        after["masked_token_acc"]
    )
    loaded, meta = load_module(tmp_path, DIT_KIND, GeneratorConfig, SpeechGenerator)
    assert meta["codec_id"] == "toy"
    assert dit_scores(loaded, valid, SIZE) == after


def test_draw_is_a_pure_function_of_the_rng() -> None:
    item = toy_voice_items(GEN, 1, seed=3)[0]
    length = item.codes.shape[1]

    def draws(seed: int, size: int) -> ItemDraws:
        return draw(item, GEN, size, np.random.default_rng(seed))

    for size in (SIZE, length // 2):
        a, b = draws(5, size), draws(5, size)
        assert a.window == b.window
        assert a.ratio == b.ratio
        assert np.array_equal(a.noise, b.noise)
        flags = ("drop_content", "drop_style", "use_voice", "give_emotion")
        assert all(getattr(a, f) == getattr(b, f) for f in flags)
        width = a.window.stop - a.window.start
        assert width == min(size, length)
        assert 0 <= a.window.start <= length - width
        assert a.noise.shape == (GEN.dit.levels, width)
        assert 1.0 / width <= a.ratio <= 1.0
    assert not np.array_equal(draws(5, SIZE).noise, draws(6, SIZE).noise)
    # over many seeds every choice takes both values, at about the configured rates
    many = [draws(seed, length // 2) for seed in range(400)]
    assert len({d.window.start for d in many}) > 5
    assert np.mean([d.use_voice for d in many]) == pytest.approx(GEN.voice_share, abs=0.07)
    assert np.mean([d.give_emotion for d in many]) == pytest.approx(GEN.emotion_share, abs=0.08)
    assert np.mean([d.drop_content for d in many]) == pytest.approx(GEN.content_drop, abs=0.05)


def test_lip_dropout_zeroes_the_lips_of_its_share_and_leaves_other_runs_alone() -> None:
    item = toy_voice_items(GEN, 1, seed=3)[0]
    length = item.codes.shape[1]
    dropping = replace(GEN, lip_drop=0.5)
    plain = [draw(item, GEN, SIZE, np.random.default_rng(s)) for s in range(300)]
    dropped = [draw(item, dropping, SIZE, np.random.default_rng(s)) for s in range(300)]
    assert not any(d.drop_lips for d in plain)
    assert np.mean([d.drop_lips for d in dropped]) == pytest.approx(0.5, abs=0.08)
    # drawn last: every other choice is the one a run without lip dropout makes
    for a, b in zip(plain, dropped, strict=True):
        assert (a.window, a.ratio, a.use_voice, a.give_emotion) == (
            b.window,
            b.ratio,
            b.use_voice,
            b.give_emotion,
        )
    items = toy_voice_items(GEN, 2, seed=5)
    draws = [draw(it, dropping, length, np.random.default_rng(0)) for it in items]
    draws = [replace(draws[0], drop_lips=True), replace(draws[1], drop_lips=False)]
    inputs, _, _ = generator_batch(items, draws, dropping, torch.device("cpu"))
    assert not inputs.lip[0].any()
    n = draws[1].window.stop - draws[1].window.start
    assert torch.equal(inputs.lip[1, :n], torch.from_numpy(items[1].lip[draws[1].window]))
    assert inputs.units[0].any()  # the units still say the words


def test_generator_config_without_lip_drop_loads_as_trained_without_it(tmp_path: Path) -> None:
    from imagintalk_plugin.nn.checkpoint import config_from_dict, config_to_dict

    data = config_to_dict(GEN)
    del data["lip_drop"]  # a config.json saved before the field existed
    assert config_from_dict(GeneratorConfig, data, tmp_path).lip_drop == 0.0
    del data["voice_share"]  # any other missing key is still refused
    with pytest.raises(ModelLoadError, match="missing config keys \\['voice_share'\\]"):
        config_from_dict(GeneratorConfig, data, tmp_path)
    with pytest.raises(ValueError, match="lip_drop"):
        replace(GEN, lip_drop=1.5)


def test_generator_batch_never_masks_padding() -> None:
    items = toy_voice_items(GEN, 3, seed=4)
    lengths = [it.codes.shape[1] for it in items]
    assert len(set(lengths)) > 1
    rng = np.random.default_rng(0)
    draws = [draw(it, GEN, SIZE, rng) for it in items]
    full = [replace(d, ratio=1.0) for d in draws]  # every real token masked
    inputs, targets, masked = generator_batch(items, full, GEN, torch.device("cpu"))
    longest = max(lengths)
    assert inputs.codes.shape == targets.shape == masked.shape == (3, GEN.dit.levels, longest)
    assert inputs.pad is not None
    pad = inputs.pad[:, None, :].expand_as(masked)
    assert torch.equal(masked, ~pad)
    assert (inputs.codes[pad] == 0).all()
    assert (inputs.codes[~pad] == GEN.dit.codebook_size).all()
    for i, (item, length) in enumerate(zip(items, lengths, strict=True)):
        assert torch.equal(targets[i, :, :length], torch.from_numpy(item.codes))
        assert not inputs.pad[i, :length].any()
        assert inputs.pad[i, length:].all()

    inputs, targets, masked = generator_batch(items, draws, GEN, torch.device("cpu"))
    assert not (masked & pad).any()  # the drawn ratios: still nothing masked on padding
    assert masked.any()
    assert torch.equal(
        inputs.codes[masked], torch.full_like(targets[masked], GEN.dit.codebook_size)
    )
    assert torch.equal(inputs.codes[~masked & ~pad], targets[~masked & ~pad])
    for i, (item, d) in enumerate(zip(items, draws, strict=True)):
        expected = item.emotion if d.give_emotion else GEN.adapter.num_emotions
        assert int(inputs.emotion[i]) == expected
        assert inputs.voice_mask is not None
        assert bool(inputs.voice_mask[i]) == d.use_voice


def test_dit_resume_continues_where_it_stopped(tmp_path: Path) -> None:
    straight = _dit_stage(8, save_every=2, eval_every=4)
    drive(run_stage(straight, tmp_path / "straight", CTX))

    interrupted = _dit_stage(8, save_every=100, eval_every=4)
    cancel = CancelToken()

    def stop_after_five(step: Progress) -> None:
        if step.stage == "style-dit" and step.done == 5:
            cancel.cancel()

    with pytest.raises(CancelledError):
        drive(run_stage(interrupted, tmp_path / "resumed", CTX), stop_after_five, cancel)
    _, meta = load_module(tmp_path / "resumed", DIT_KIND, GeneratorConfig, SpeechGenerator)
    assert meta["step"] == 5
    assert not meta["complete"]

    resumed = _dit_stage(8, save_every=100, eval_every=4)
    seen: list[Progress] = []
    result = drive(run_stage(resumed, tmp_path / "resumed", CTX, resume=True), seen.append)
    assert [s.done for s in seen if s.stage == "style-dit"] == [6, 7, 8]
    assert [h["step"] for h in result["history"]] == [4, 8]
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_resume_with_more_steps_extends_a_finished_stage(tmp_path: Path) -> None:
    drive(run_stage(_dit_stage(4, save_every=2, eval_every=2), tmp_path, CTX))
    _, meta = load_module(tmp_path, DIT_KIND, GeneratorConfig, SpeechGenerator)
    assert meta["complete"]

    seen: list[Progress] = []
    longer = _dit_stage(6, save_every=2, eval_every=2)
    result = drive(run_stage(longer, tmp_path, CTX, resume=True), seen.append)
    assert [s.done for s in seen if s.stage == "style-dit"] == [5, 6]
    assert [h["step"] for h in result["history"]] == [2, 4, 6]
    _, meta = load_module(tmp_path, DIT_KIND, GeneratorConfig, SpeechGenerator)
    assert meta["step"] == 6
    assert meta["complete"]

    other_lr = _dit_stage(8, save_every=2, eval_every=2, lr=1e-2)
    with pytest.raises(ModelLoadError, match="other training settings"):
        drive(run_stage(other_lr, tmp_path, CTX, resume=True))


def test_steps_override_applies_to_stages_with_a_training_schedule() -> None:
    preset = acoustic_preset("tiny")
    assert with_steps(preset, "vocoder", None) is preset
    longer = with_steps(preset, "vocoder", 7)
    assert longer.vocoder_train.steps == 7
    assert longer.codec_train == preset.codec_train
    with pytest.raises(UsageError, match="--steps applies to aligner, detector, codec"):
        with_steps(preset, "units", 7)
    semantic = semantic_preset("tiny")
    assert with_steps(semantic, "aligner", 7).aligner_train.steps == 7
    assert with_steps(semantic, "aligner", 7).fold_train == semantic.fold_train
    with pytest.raises(UsageError, match="not to 'refiner'"):
        with_steps(semantic, "refiner", 7)
    with pytest.raises(UsageError, match="at least 1"):
        with_steps(preset, "dit", 0)
