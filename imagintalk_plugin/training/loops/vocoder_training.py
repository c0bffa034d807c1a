"""Training the Vocos vocoder against its discriminator: log-mel -> 16 kHz waveform.

Generator and discriminator train in one module (`VocoderGAN`) and one optimiser step: the
discriminator's loss reaches only its own weights (the generated audio is detached for it), and
the generator's adversarial and feature-matching terms see the discriminator through detached
copies of its weights (`torch.func.functional_call`), so neither player's loss moves the other.
One module keeps the shared loop (AdamW, schedule, DDP, checkpoints, resume) unchanged.

A share of the items (`GanWeights.codec_share`) is vocoded from the codec's reconstruction of
the mel instead of the true mel, so the vocoder learns the input it gets at inference.
The inference model (the generator alone) is saved beside the training folder when done.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from imagintalk_plugin.nn.codec import MelCodec
from imagintalk_plugin.nn.discriminators import (
    Discriminator,
    DiscriminatorConfig,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    multi_resolution_stft_loss,
)
from imagintalk_plugin.nn.mel import LogMel
from imagintalk_plugin.nn.vocoder import Vocoder, VocoderConfig
from imagintalk_plugin.training.loops.codec_training import audio_window, mel_batch
from imagintalk_plugin.training.loops.corpus import item_rng
from imagintalk_plugin.training.loops.loop import Stage
from imagintalk_plugin.training.loops.settings import TrainConfig

VOCODER_GAN_KIND = "imagintalk/vocoder-gan"
EVAL_CLIPS = 16


@dataclass(frozen=True)
class GanWeights:
    """Loss weights of vocoder training (Vocos' recipe: the mel term dominates early)."""

    mel: float = 45.0  # L1 between log-mels of real and generated audio
    stft: float = 1.0  # multi-resolution STFT loss: keeps phase-sensitive detail honest
    adversarial: float = 1.0
    feature_matching: float = 2.0
    codec_share: float = 0.5  # share of items vocoded from the codec's reconstructed mel


@dataclass(frozen=True)
class VocoderGANConfig:
    """What the training folder holds: generator, discriminator and loss weights."""

    vocoder: VocoderConfig = field(default_factory=VocoderConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    weights: GanWeights = field(default_factory=GanWeights)


class VocoderGAN(nn.Module):
    """Generator + discriminator; `forward` returns every loss term of one batch."""

    def __init__(self, config: VocoderGANConfig) -> None:
        super().__init__()
        self.config = config
        self.generator = Vocoder(config.vocoder)
        self.discriminator = Discriminator(config.discriminator)
        self.mel = LogMel(config.vocoder.mel)

    def forward(self, audio: torch.Tensor, mel_in: torch.Tensor) -> dict[str, torch.Tensor]:
        """audio (B, N) true waveform, mel_in (B, M, N / hop) vocoder input -> loss terms."""
        w = self.config.weights
        fake = self.generator(mel_in)  # (B, N)
        mel_loss = (self.mel(fake) - self.mel(audio)).abs().mean()
        stft_loss = multi_resolution_stft_loss(audio, fake)
        real_outs = self.discriminator(audio)
        d_loss = discriminator_loss(real_outs, self.discriminator(fake.detach()))
        frozen = {k: v.detach() for k, v in self.discriminator.named_parameters()}
        fake_outs = torch.func.functional_call(self.discriminator, frozen, (fake,))
        real_targets = [(o.detach(), [f.detach() for f in fs]) for o, fs in real_outs]
        adversarial = generator_adversarial_loss(fake_outs)
        matching = feature_matching_loss(real_targets, fake_outs)
        generator = (
            w.mel * mel_loss
            + w.stft * stft_loss
            + w.adversarial * adversarial
            + w.feature_matching * matching
        )
        return {
            "total": generator + d_loss,
            "mel": mel_loss.detach(),
            "discriminator": d_loss.detach(),
            "adversarial": adversarial.detach(),
        }


def vocoder_stage(
    config: VocoderGANConfig,
    train: TrainConfig,
    audio: list[np.ndarray],
    valid_audio: list[np.ndarray],
    codec: MelCodec | None,
    seconds: float,
    meta: dict,
) -> Stage:
    """The vocoder GAN as a `Stage`; `codec` (frozen) supplies reconstructed mels."""
    torch.manual_seed(train.seed)
    model = VocoderGAN(config)
    hop = config.vocoder.mel.hop
    frames = max(1, round(seconds * config.vocoder.mel.sample_rate / hop))
    mel = LogMel(config.vocoder.mel)
    if codec is not None:
        codec.eval().requires_grad_(False)

    def loss_fn(
        trained: nn.Module, items: list[int], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(trained.parameters()).device
        rngs = [item_rng(train.seed, step, i) for i in items]
        clips = [
            audio_window(audio[i], frames, hop, rng) for i, rng in zip(items, rngs, strict=True)
        ]
        clips = [np.pad(c, (0, frames * hop - len(c))) for c in clips]  # short clips: silence
        mels, _ = mel_batch(mel, clips, hop, device)
        if codec is not None:
            use = torch.tensor([r.random() < config.weights.codec_share for r in rngs])
            if use.any():
                with torch.no_grad():
                    codec.to(device)
                    recon = codec.decode(codec.encode(mels[use.to(device)]))
                mels = mels.clone()
                mels[use.to(device)] = recon
        wave = torch.from_numpy(np.stack(clips)).to(device)
        losses = trained(wave, mels)
        count = torch.tensor(len(items), device=device)
        return losses["total"] * count, count

    def evaluate(model_: nn.Module) -> dict[str, float]:
        assert isinstance(model_, VocoderGAN)
        return vocoder_scores(model_.generator, mel, valid_audio[:EVAL_CLIPS], codec, "valid_")

    name = "vocoder"
    return Stage(name, VOCODER_GAN_KIND, model, config, train, len(audio), loss_fn, evaluate, meta)


@torch.no_grad()
def vocoder_scores(
    vocoder: Vocoder,
    mel: LogMel,
    clips: list[np.ndarray],
    codec: MelCodec | None,
    prefix: str = "",
) -> dict[str, float]:
    """Log-mel L1 between true clips and their vocoded copies (from the true and codec mels)."""
    if not clips:
        return {}
    vocoder.eval()
    device = next(vocoder.parameters()).device
    hop = vocoder.config.mel.hop
    sources = {"true_mel": None} | ({"codec_mel": codec} if codec is not None else {})
    scores = {}
    for name, source in sources.items():
        total, count = 0.0, 0
        for clip in clips:
            target, _ = mel_batch(mel, [clip], hop, device)
            mels = target if source is None else source.decode(source.encode(target))
            wave = vocoder(mels)  # (1, N)
            again = mel.to(device)(wave)
            total += float((again - target).abs().sum())
            count += target.numel()
        scores[f"{prefix}mel_l1_{name}"] = total / max(1, count)
    return scores
