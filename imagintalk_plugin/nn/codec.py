"""Mel codec: 50 Hz log-mel -> residual-VQ tokens -> log-mel (the acoustic tokens of ImaginTalk).

A ConvNeXt-1d encoder (the Vocos backbone, non-causal, no downsampling: mel frames are already
at the token rate), a DAC-style residual VQ, and a mirror ConvNeXt decoder with a linear mel
head. Log-mel enters normalised by fixed constants (`nn.mel.LOG_MEL_MEAN`, `LOG_MEL_SCALE`:
(x + 5) / 2.5) and leaves de-normalised, so the losses and the vocoder see plain log-mel. The
vocoder (`nn.vocoder`) turns the decoded log-mel into audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from imagintalk_plugin.nn.mel import MelConfig, denormalize_log_mel, normalize_log_mel
from imagintalk_plugin.nn.rvq import ResidualVQ
from imagintalk_plugin.nn.vocoder import ConvNeXtBackbone, init_convnext

CODEC_KIND = "imagintalk/codec"  # checkpoint kind of this model family


@dataclass(frozen=True)
class CodecConfig:
    """The codec's shape and loss weights; about 3.9 M parameters at the defaults (RVQ 0.1 M)."""

    mel: MelConfig = field(default_factory=MelConfig)
    dim: int = 256
    intermediate: int | None = None  # ConvNeXt hidden width; None = 3 x dim, as Vocos
    layers: int = 4  # ConvNeXt blocks on each side
    kernel: int = 7  # depthwise kernel: 7 frames = 140 ms context per block
    levels: int = 8  # 8 x 10 bit x 50 Hz = 4 kbit/s at full depth
    codebook_size: int = 1024
    codebook_dim: int = 8  # factorised lookup space (DAC): low dimension keeps codes in use
    quantizer_dropout: float = 0.5  # half the items train on a random prefix of levels
    commit_weight: float = 0.25  # VQ-VAE beta
    codebook_weight: float = 1.0
    dead_after: int = 200  # training passes without use before a code is restarted


@dataclass(frozen=True)
class CodecOutput:
    """The codec's reconstruction of one batch, and its losses."""

    mel: torch.Tensor  # (B, n_mels, T) reconstructed natural-log mel
    codes: torch.Tensor  # (B, L, T) int64
    losses: dict[str, torch.Tensor]  # "mel", "commit", "codebook", "total"; scalars
    usage: torch.Tensor  # (L,) per-level code perplexity over real frames (for logging)


def masked_l1(a: torch.Tensor, b: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
    """Mean |a - b| over the real frames of (B, C, T) tensors; pad (B, T) True = padding."""
    err = (a - b).abs()  # (B, C, T)
    if pad is None:
        return err.mean()
    real = (~pad)[:, None, :].to(err.dtype)  # (B, 1, T)
    return (err * real).sum() / (real.sum() * err.shape[1]).clamp(min=1.0)


class MelCodec(nn.Module):
    """ConvNeXt encoder -> ResidualVQ -> ConvNeXt decoder over 50 Hz log-mel."""

    def __init__(self, config: CodecConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or CodecConfig()
        n_mels = config.mel.n_mels
        hidden = config.intermediate or 3 * config.dim
        self.encoder = ConvNeXtBackbone(n_mels, config.dim, hidden, config.layers, config.kernel)
        self.decoder = ConvNeXtBackbone(
            config.dim, config.dim, hidden, config.layers, config.kernel
        )
        self.head = nn.Conv1d(config.dim, n_mels, 1)
        self.encoder.apply(init_convnext)
        self.decoder.apply(init_convnext)
        init_convnext(self.head)
        # the quantiser keeps PyTorch's default init (DAC): unit-scale codes, kaiming projections
        self.quantizer = ResidualVQ(
            config.dim,
            config.levels,
            config.codebook_size,
            config.codebook_dim,
            config.quantizer_dropout,
            config.dead_after,
        )

    def _decode_latent(self, z: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, D, T) -> log-mel (B, n_mels, T)."""
        return denormalize_log_mel(self.head(self.decoder(z, pad)))

    def forward(self, mel: torch.Tensor, pad: torch.Tensor | None = None) -> CodecOutput:
        """mel (B, n_mels, T) natural-log mel, pad (B, T) True = padding -> CodecOutput."""
        cfg = self.config
        z = self.encoder(normalize_log_mel(mel), pad)  # (B, D, T)
        vq = self.quantizer(z, pad)
        recon = self._decode_latent(vq.quantized, pad)  # (B, n_mels, T)
        mel_loss = masked_l1(recon.float(), mel.float(), pad)
        total = (
            mel_loss + cfg.commit_weight * vq.commit_loss + cfg.codebook_weight * vq.codebook_loss
        )
        losses = {
            "mel": mel_loss,
            "commit": vq.commit_loss,
            "codebook": vq.codebook_loss,
            "total": total,
        }
        return CodecOutput(mel=recon, codes=vq.codes, losses=losses, usage=vq.usage)

    @torch.no_grad()
    def encode(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (B, n_mels, T) -> codes (B, L, T) with every level."""
        return self.quantizer.encode(self.encoder(normalize_log_mel(mel)))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, L', T), L' <= levels -> log-mel (B, n_mels, T)."""
        return self._decode_latent(self.quantizer.decode(codes))
