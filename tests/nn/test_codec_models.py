"""Acoustic-branch models: log-mel front, residual VQ, mel codec, vocoder, discriminators."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from imagintalk_plugin.nn.codec import CodecConfig, MelCodec
from imagintalk_plugin.nn.discriminators import (
    Discriminator,
    DiscriminatorConfig,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    multi_resolution_stft_loss,
)
from imagintalk_plugin.nn.mel import LogMel, MelConfig, mel_filterbank, num_frames
from imagintalk_plugin.nn.rvq import ResidualVQ
from imagintalk_plugin.nn.vocoder import Vocoder, VocoderConfig

SR = 16000
HOP = 320
TINY_CODEC = CodecConfig(
    dim=32, intermediate=64, layers=1, levels=3, codebook_size=16, quantizer_dropout=0.0
)
TINY_VOCODER = VocoderConfig(dim=32, intermediate=64, layers=1)
TINY_DISC = DiscriminatorConfig(periods=(2, 3), channels=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tones(freqs: tuple[float, ...], samples: int = 6400) -> torch.Tensor:
    """(len(freqs), samples) amplitude-modulated sine tones: structured, not noise."""
    t = torch.arange(samples) / SR
    envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * 3 * t)
    return 0.3 * envelope * torch.sin(2 * math.pi * torch.tensor(freqs)[:, None] * t)


# --- log-mel ------------------------------------------------------------------------------


@pytest.mark.parametrize("samples", [0, 319, 320, 1000, 6400, 6401])
def test_log_mel_keeps_the_frame_contract(samples: int) -> None:
    out = LogMel()(torch.randn(2, samples) * 0.1)
    assert out.shape == (2, 80, num_frames(samples, HOP))
    assert num_frames(samples, HOP) == samples // HOP
    assert torch.isfinite(out).all()
    assert (out >= math.log(1e-5) - 1e-6).all()


def test_log_mel_filterbank_matches_librosa_slaney() -> None:
    config = MelConfig()
    ours = mel_filterbank(config)
    theirs = librosa.filters.mel(
        sr=SR, n_fft=1024, n_mels=80, fmin=0.0, fmax=8000.0, htk=False, norm="slaney"
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-7)
    assert "window" not in LogMel().state_dict()
    assert "filters" not in LogMel().state_dict()


def test_log_mel_puts_a_tone_in_its_band() -> None:
    centres = librosa.mel_frequencies(82, fmin=0.0, fmax=8000.0, htk=False)[1:-1]
    for freq in (300.0, 1000.0, 3000.0):
        mel = LogMel()(_tones((freq,), 8000))[0]  # (80, T)
        band = int(mel[:, 2:-2].mean(-1).argmax())
        assert abs(band - int(np.abs(centres - freq).argmin())) <= 1


# --- residual VQ --------------------------------------------------------------------------


def _vq(**kwargs: float) -> ResidualVQ:
    torch.manual_seed(0)
    args = {"quantizer_dropout": 0.0, "dead_after": 1000, **kwargs}
    return ResidualVQ(16, 4, 32, 4, **args)


def test_rvq_codes_shape_range_and_eval_roundtrip() -> None:
    vq = _vq().eval()
    x = torch.randn(3, 16, 7)
    with torch.no_grad():
        out = vq(x)
    codes = vq.encode(x)
    assert codes.shape == (3, 4, 7)
    assert codes.dtype == torch.int64
    assert ((codes >= 0) & (codes < 32)).all()
    assert torch.equal(codes, out.codes)
    torch.testing.assert_close(vq.decode(codes), out.quantized, atol=1e-5, rtol=0)
    assert out.usage.shape == (4,)
    assert out.commit_loss.ndim == 0
    assert out.codebook_loss.ndim == 0
    assert vq.decode(codes[:, :2]).shape == (3, 16, 7)
    with pytest.raises(ValueError, match="code levels"):
        vq.decode(torch.zeros(3, 5, 7, dtype=torch.long))


def test_rvq_more_levels_reconstruct_better_after_training() -> None:
    vq = _vq(quantizer_dropout=0.5)
    x = torch.randn(4, 16, 32)
    opt = torch.optim.Adam(vq.parameters(), 1e-2)
    for _ in range(40):
        out = vq(x)
        loss = (out.quantized - x).pow(2).mean() + 0.25 * out.commit_loss + out.codebook_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    vq.eval()
    codes = vq.encode(x)
    errors = [(vq.decode(codes[:, :n]) - x).pow(2).mean().item() for n in (1, 2, 4)]
    assert errors[0] > errors[1] > errors[2]


def test_rvq_restarts_dead_codes_from_real_frames() -> None:
    vq = _vq(dead_after=2).train()
    x = torch.randn(1, 16, 6)
    pad = torch.tensor([[False, False, False, True, True, True]])
    before = vq.codebooks[0].weight.detach().clone()
    vq(x, pad)
    assert torch.equal(vq.codebooks[0].weight, before)  # one unused pass: not dead yet
    out = vq(x, pad)
    after = vq.codebooks[0].weight.detach()
    changed = (after != before).any(-1)
    assert changed.sum() >= 32 - 3  # at most 3 real frames keep codes alive
    assert not changed[out.codes[0, 0, :3]].any()  # codes in use stay
    residuals = vq.in_proj[0](x)[0].t().detach()  # (T, C)
    for row in after[changed]:  # each restart is the residual of a real frame
        distance = (residuals - row).abs().amax(-1)  # (T,)
        assert distance[:3].min() < 1e-6
    assert (vq.unused_for[0, changed] == 0).all()


def test_rvq_losses_ignore_padding_frames() -> None:
    vq = _vq().eval()
    x = torch.randn(2, 16, 9)
    pad = torch.zeros(2, 9, dtype=torch.bool)
    pad[0, 5:] = True
    noisy = x.clone()
    noisy[0, :, 5:] = 100 * torch.randn(16, 4)
    with torch.no_grad():
        a, b = vq(x, pad), vq(noisy, pad)
    torch.testing.assert_close(a.commit_loss, b.commit_loss)
    torch.testing.assert_close(a.codebook_loss, b.codebook_loss)
    torch.testing.assert_close(a.usage, b.usage)
    assert a.commit_loss > 0


DDP_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    import torch.distributed as dist
    from imagintalk_plugin.nn.rvq import ResidualVQ

    rank, init = int(sys.argv[1]), sys.argv[2]
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    torch.manual_seed(0)
    vq = ResidualVQ(8, 2, 64, 4, quantizer_dropout=0.5, dead_after=1).train()
    start = vq.codebooks[0].weight.detach().clone()
    torch.manual_seed(1 + rank)  # each process: its own data and its own random choices
    for _ in range(3):
        vq(torch.randn(2, 8, 5))
    moved = bool((vq.codebooks[0].weight != start).any())
    state = torch.cat([p.detach().flatten() for p in vq.codebooks.parameters()])
    gathered = [torch.zeros_like(state) for _ in range(2)]
    dist.all_gather(gathered, state)
    ages = [torch.zeros_like(vq.unused_for) for _ in range(2)]
    dist.all_gather(ages, vq.unused_for)
    if rank == 0:
        same = torch.equal(gathered[0], gathered[1]) and torch.equal(ages[0], ages[1])
        print("SAME" if same and moved else "DIFFERENT")
    dist.destroy_process_group()
    """
)


@pytest.mark.slow  # two fresh Python processes importing torch: several seconds
def test_rvq_restarts_keep_codebooks_identical_across_ddp_processes(tmp_path: Path) -> None:
    init = f"file://{tmp_path / 'rendezvous'}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DDP_SCRIPT, str(rank), init],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    assert outputs[0][0].strip() == "SAME"


# --- mel codec ----------------------------------------------------------------------------


def _tone_mels() -> torch.Tensor:
    return LogMel()(_tones((220.0, 330.0, 500.0, 800.0)))  # (4, 80, 20)


def test_codec_training_lowers_the_mel_loss() -> None:
    torch.manual_seed(0)
    codec = MelCodec(TINY_CODEC)
    mels = _tone_mels()
    opt = torch.optim.Adam(codec.parameters(), 3e-3)
    losses = []
    for _ in range(30):
        out = codec(mels)
        opt.zero_grad()
        out.losses["total"].backward()
        opt.step()
        losses.append(out.losses["mel"].item())
    assert set(out.losses) == {"mel", "commit", "codebook", "total"}
    assert all(v.ndim == 0 and torch.isfinite(v) for v in out.losses.values())
    assert out.mel.shape == mels.shape
    assert out.codes.shape == (4, 3, 20)
    assert losses[-1] < 0.5 * losses[0]


def test_codec_encode_decode_shapes_and_fewer_levels() -> None:
    torch.manual_seed(0)
    codec = MelCodec(TINY_CODEC).eval()
    mels = _tone_mels()
    codes = codec.encode(mels)
    assert codes.shape == (4, 3, 20)
    with torch.no_grad():
        full = codec.decode(codes)
        coarse = codec.decode(codes[:, :1])
        out = codec(mels)
    assert full.shape == coarse.shape == mels.shape
    torch.testing.assert_close(full, out.mel, atol=1e-4, rtol=0)


def test_codec_clip_alone_equals_clip_in_padded_batch() -> None:
    torch.manual_seed(0)
    codec = MelCodec(TINY_CODEC).eval()
    mels = _tone_mels()[:2]
    batch = mels.clone()
    batch[0, :, 12:] = 3.0  # garbage on the padded frames
    pad = torch.zeros(2, 20, dtype=torch.bool)
    pad[0, 12:] = True
    with torch.no_grad():
        alone = codec(mels[:1, :, :12])
        batched = codec(batch, pad)
        clean = codec(mels, pad)
    torch.testing.assert_close(batched.mel[0, :, :12], alone.mel[0], atol=1e-4, rtol=0)
    assert torch.equal(batched.codes[0, :, :12], alone.codes[0])
    torch.testing.assert_close(batched.losses["total"], clean.losses["total"])


# --- vocoder ------------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [0, 1, 2, 7, 20])
def test_vocoder_emits_hop_samples_per_frame(frames: int) -> None:
    torch.manual_seed(0)
    vocoder = Vocoder(TINY_VOCODER).eval()
    with torch.no_grad():
        audio = vocoder(torch.randn(2, 80, frames) - 5.0)
    assert audio.shape == (2, frames * HOP)
    assert torch.isfinite(audio).all()


def test_vocoder_training_lowers_the_stft_loss() -> None:
    torch.manual_seed(0)
    vocoder = Vocoder(TINY_VOCODER)
    audio = _tones((220.0, 500.0))
    mels = LogMel()(audio)
    opt = torch.optim.Adam(vocoder.parameters(), 3e-3)
    losses = []
    for _ in range(40):
        loss = multi_resolution_stft_loss(audio, vocoder(mels))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


# --- discriminators -----------------------------------------------------------------------


def test_discriminator_output_structure() -> None:
    torch.manual_seed(0)
    disc = Discriminator(TINY_DISC)
    outs = disc(torch.randn(2, 3201))
    assert len(outs) == len(TINY_DISC.periods) + len(TINY_DISC.stft_resolutions)
    for logits, features in outs:
        assert logits.ndim == 2
        assert logits.shape[0] == 2
        assert len(features) >= 4  # every conv layer and the output
        assert all(f.shape[0] == 2 for f in features)
    assert len(Discriminator()(torch.randn(1, 3200))) == 8


def test_gan_losses_are_finite_scalars_and_reach_the_generator() -> None:
    torch.manual_seed(0)
    vocoder = Vocoder(TINY_VOCODER)
    disc = Discriminator(TINY_DISC)
    real = _tones((220.0, 500.0), 3200)
    fake = vocoder(LogMel()(real))
    d_loss = discriminator_loss(disc(real), disc(fake.detach()))
    real_outs, fake_outs = disc(real), disc(fake)
    g_loss = generator_adversarial_loss(fake_outs)
    fm_loss = feature_matching_loss(real_outs, fake_outs)
    stft_loss = multi_resolution_stft_loss(real, fake)
    for loss in (d_loss, g_loss, fm_loss, stft_loss):
        assert loss.ndim == 0
        assert torch.isfinite(loss)
    d_loss.backward()
    assert vocoder.head.weight.grad is None  # fakes were detached for the discriminator
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in disc.parameters())
    disc.zero_grad()
    g_loss.backward()
    grad = vocoder.head.weight.grad
    assert grad is not None
    assert grad.abs().sum() > 0
