"""Vocos vocoder (Siuzdak 2023): log-mel -> ConvNeXt backbone -> STFT coefficients -> iSTFT.

The backbone runs at the frame rate (50 Hz) with no upsampling; the head predicts a log-magnitude
and a phase angle per STFT bin and the inverse STFT makes the waveform, so the network never
models samples one by one and runs fast on CPU. The ConvNeXt-1d backbone here is also the
codec's encoder and decoder (`nn.codec`).

Length contract: T mel frames -> exactly T * hop samples. The iSTFT uses center=True, so synthesis
frame t is centred on sample t * hop like analysis frame t of `LogMel`, and `length=T * hop`
keeps the last half hop that center=True would otherwise trim (it is still covered by two
windows, so the overlap-add envelope there is well conditioned for n_fft >= 2 * hop).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from imagintalk_plugin.nn.mel import MelConfig, normalize_log_mel

VOCODER_KIND = "imagintalk/vocoder"  # checkpoint kind of this model family


@dataclass(frozen=True)
class VocoderConfig:
    """The vocoder's shape; about 7.8 M parameters at the defaults."""

    mel: MelConfig = field(default_factory=MelConfig)
    dim: int = 384
    intermediate: int = 1152  # ConvNeXt expansion 3x, as Vocos
    layers: int = 8
    n_fft: int = 1280  # 4 x hop (Vocos: 1024 = 4 x 256); 80 ms, 641 bins
    kernel: int = 7  # depthwise kernel: 7 frames = 140 ms context per block
    max_magnitude: float = 100.0  # exp(log-magnitude) clipped like Vocos, no overflow early on


def init_convnext(module: nn.Module) -> None:
    """Vocos init: truncated normal (std 0.02) weights, zero biases for convs and linears."""
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> Linear -> GELU -> Linear -> layer scale, residual."""

    def __init__(self, dim: int, intermediate: int, kernel: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.pwconv2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, D, T), pad (B, T) -> (B, D, T)."""
        if pad is not None:  # padded frames look like the conv's own zero padding
            x = x.masked_fill(pad[:, None, :], 0.0)
        y = self.dwconv(x).transpose(1, 2)  # (B, T, D)
        y = self.pwconv2(nn.functional.gelu(self.pwconv1(self.norm(y))))  # (B, T, D)
        return x + (self.gamma * y).transpose(1, 2)  # (B, D, T)


class ConvNeXtBackbone(nn.Module):
    """Conv embedding -> LayerNorm -> ConvNeXt blocks -> LayerNorm; same length in and out."""

    def __init__(
        self, in_dim: int, dim: int, intermediate: int, layers: int, kernel: int = 7
    ) -> None:
        super().__init__()
        self.embed = nn.Conv1d(in_dim, dim, kernel, padding=kernel // 2)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        scale = 1.0 / max(1, layers)  # Vocos: layer scale 1/L keeps the sum of blocks bounded
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate, kernel, scale) for _ in range(layers)
        )
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, C, T), pad (B, T) True = padding -> (B, D, T)."""
        if pad is not None:
            x = x.masked_fill(pad[:, None, :], 0.0)
        x = self.norm(self.embed(x).transpose(1, 2)).transpose(1, 2)  # (B, D, T)
        for block in self.blocks:
            x = block(x, pad)
        return self.final_norm(x.transpose(1, 2)).transpose(1, 2)  # (B, D, T)


class Vocoder(nn.Module):
    """Log-mel (B, n_mels, T) -> audio (B, T * hop)."""

    def __init__(self, config: VocoderConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or VocoderConfig()
        if config.n_fft < 2 * config.mel.hop:
            raise ValueError("the vocoder needs n_fft >= 2 * hop for a well-posed overlap-add")
        self.backbone = ConvNeXtBackbone(
            config.mel.n_mels, config.dim, config.intermediate, config.layers, config.kernel
        )
        self.head = nn.Linear(config.dim, config.n_fft + 2)  # log-magnitude and phase per bin
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self.apply(init_convnext)

    def forward(self, mel: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        """mel (B, n_mels, T) natural-log mel, pad (B, T) optional -> audio (B, T * hop)."""
        if mel.shape[-1] == 0:
            return mel.new_zeros(mel.shape[0], 0)
        return self.synthesize(*self.spectrum(mel, pad))

    def spectrum(
        self, mel: torch.Tensor, pad: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """mel (B, n_mels, T) -> magnitude, phase (B, n_fft // 2 + 1, T): all but the iSTFT
        (which ONNX cannot express, so the runtime runs it after an exported spectrum)."""
        x = self.backbone(normalize_log_mel(mel), pad).transpose(1, 2)  # (B, T, D)
        log_mag, phase = self.head(x).float().transpose(1, 2).chunk(2, dim=1)  # (B, F, T) each
        return torch.exp(log_mag).clamp(max=self.config.max_magnitude), phase

    def synthesize(self, magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """Inverse STFT of (B, F, T) magnitude and phase -> audio (B, T * hop)."""
        return inverse_stft(magnitude, phase, self.config.n_fft, self.config.mel.hop, self.window)


def inverse_stft(
    magnitude: torch.Tensor, phase: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor
) -> torch.Tensor:
    """(B, F, T) magnitude and phase angle -> audio (B, T * hop): the vocoder's last step, also
    run by the ONNX backend after its exported spectrum (iSTFT is no ONNX operator)."""
    frames = magnitude.shape[-1]
    # phase as a direct angle through cos / sin (Vocos): periodic, so no wrap-around jump
    spec = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
    return torch.istft(
        spec,
        n_fft,
        hop_length=hop,
        win_length=n_fft,
        window=window.to(magnitude.device),
        center=True,
        length=frames * hop,
    )  # (B, T * hop)
