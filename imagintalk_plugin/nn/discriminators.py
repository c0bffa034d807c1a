"""GAN discriminators and losses for the vocoder (Vocos recipe, small enough for CPU).

Two families look at the waveform: multi-period discriminators (HiFi-GAN, Kong et al. 2020),
which fold the audio by a period and see periodic structure such as pitch, and multi-resolution
spectrogram discriminators (UnivNet, Jang et al. 2021), which see magnitude spectrograms at
several STFT sizes. Losses are hinge losses as in Vocos, averaged over sub-discriminators so their
scale does not depend on how many there are; feature matching is the L1 distance of every
feature map, summed over layers and averaged over sub-discriminators (Vocos). Vocos weighs them
as adversarial + feature matching + 45 x mel L1; `multi_resolution_stft_loss` is the
spectral-convergence + log-magnitude alternative (Parallel WaveGAN).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

DiscOutputs = list[tuple[torch.Tensor, list[torch.Tensor]]]

STFT_RESOLUTIONS = ((512, 128, 512), (1024, 256, 1024), (256, 64, 256))  # (n_fft, hop, win)
LEAK = 0.1


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Discriminator shapes; about 0.97 M parameters at the defaults.

    `channels` is the base width c: multi-period layers have c, 2c, 4c, 8c channels (5 x 0.14 M
    at c = 16; HiFi-GAN's 32..1024 ladder is ~41 M in all, too slow for CPU training), the
    spectrogram discriminators 2c (3 x 0.09 M, UnivNet's width 32 at c = 16).
    """

    periods: tuple[int, ...] = (2, 3, 5, 7, 11)  # primes: no period is a multiple of another
    channels: int = 16
    stft_resolutions: tuple[tuple[int, int, int], ...] = STFT_RESOLUTIONS


class PeriodDiscriminator(nn.Module):
    """Audio folded to (B, 1, N / p, p); 2-d convs along time within each phase."""

    def __init__(self, period: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.period = period
        widths = (1, *channels)
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(c_in, c_out, (5, 1), (3, 1), padding=(2, 0)))
            for c_in, c_out in itertools.pairwise(widths)
        )
        self.convs.append(weight_norm(nn.Conv2d(widths[-1], widths[-1], (5, 1), padding=(2, 0))))
        self.post = weight_norm(nn.Conv2d(widths[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """audio (B, N) -> logits (B, -1), feature maps."""
        b, n = audio.shape
        extra = (-n) % self.period
        if extra:
            mode = "reflect" if extra < n else "constant"
            audio = nn.functional.pad(audio[:, None], (0, extra), mode=mode)[:, 0]
        x = audio.view(b, 1, -1, self.period)  # (B, 1, N / p, p)
        features = []
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), LEAK)
            features.append(x)
        x = self.post(x)
        features.append(x)
        return x.flatten(1), features


class SpectrogramDiscriminator(nn.Module):
    """Magnitude spectrogram (B, 1, T, F) at one STFT resolution; convs stride over frequency."""

    def __init__(self, resolution: tuple[int, int, int], channels: int) -> None:
        super().__init__()
        self.n_fft, self.hop, self.win = resolution
        self.register_buffer("window", torch.hann_window(self.win), persistent=False)
        c = channels
        self.convs = nn.ModuleList(
            [
                weight_norm(nn.Conv2d(1, c, (3, 9), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 3), padding=(1, 1))),
            ]
        )
        self.post = weight_norm(nn.Conv2d(c, 1, (3, 3), padding=(1, 1)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """audio (B, N) -> logits (B, -1), feature maps."""
        x = stft_magnitude(audio, self.n_fft, self.hop, self.win, self.window)  # (B, F, T)
        x = x.transpose(1, 2)[:, None]  # (B, 1, T, F)
        features = []
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), LEAK)
            features.append(x)
        x = self.post(x)
        features.append(x)
        return x.flatten(1), features


class Discriminator(nn.Module):
    """All sub-discriminators: multi-period first, then multi-resolution spectrogram."""

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DiscriminatorConfig()
        c = config.channels
        self.subs = nn.ModuleList(
            [PeriodDiscriminator(p, tuple(c * m for m in (1, 2, 4, 8))) for p in config.periods]
            + [SpectrogramDiscriminator(r, 2 * c) for r in config.stft_resolutions]
        )

    def forward(self, audio: torch.Tensor) -> DiscOutputs:
        """audio (B, N) -> [(logits (B, -1), [feature maps]) per sub-discriminator]."""
        audio = audio.float()
        return [sub(audio) for sub in self.subs]


def stft_magnitude(
    audio: torch.Tensor, n_fft: int, hop: int, win: int, window: torch.Tensor | None = None
) -> torch.Tensor:
    """(B, N) -> (B, n_fft // 2 + 1, frames) STFT magnitude, centred, reflect-padded."""
    if window is None:
        window = torch.hann_window(win, device=audio.device)
    spec = torch.stft(
        audio.float(),
        n_fft,
        hop_length=hop,
        win_length=win,
        window=window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )  # (B, F, frames)
    real_imag = torch.view_as_real(spec)  # (B, F, frames, 2)
    return real_imag.pow(2).sum(-1).clamp(min=1e-7).sqrt()  # finite gradient at silence


def discriminator_loss(real_outs: DiscOutputs, fake_outs: DiscOutputs) -> torch.Tensor:
    """Hinge loss for the discriminator, mean over sub-discriminators; detach fakes first."""
    losses = [
        torch.relu(1.0 - real).mean() + torch.relu(1.0 + fake).mean()
        for (real, _), (fake, _) in zip(real_outs, fake_outs, strict=True)
    ]
    return torch.stack(losses).mean()


def generator_adversarial_loss(fake_outs: DiscOutputs) -> torch.Tensor:
    """Hinge loss for the generator, mean over sub-discriminators."""
    return torch.stack([torch.relu(1.0 - fake).mean() for fake, _ in fake_outs]).mean()


def feature_matching_loss(real_outs: DiscOutputs, fake_outs: DiscOutputs) -> torch.Tensor:
    """L1 between real (detached) and fake feature maps: sum over layers, mean over subs."""
    losses = []
    for (_, real_maps), (_, fake_maps) in zip(real_outs, fake_outs, strict=True):
        per_layer = [
            (r.detach() - f).abs().mean() for r, f in zip(real_maps, fake_maps, strict=True)
        ]
        losses.append(torch.stack(per_layer).sum())
    return torch.stack(losses).mean()


def multi_resolution_stft_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    resolutions: tuple[tuple[int, int, int], ...] = STFT_RESOLUTIONS,
) -> torch.Tensor:
    """Spectral convergence + log-magnitude L1, each averaged over resolutions (B, N) audio.

    Spectral convergence is ||S_real - S_fake||_F / ||S_real||_F per item, then the batch mean.
    """
    total = real.new_zeros((), dtype=torch.float32)
    for n_fft, hop, win in resolutions:
        window = torch.hann_window(win, device=real.device)
        mag_real = stft_magnitude(real.detach(), n_fft, hop, win, window)  # (B, F, frames)
        mag_fake = stft_magnitude(fake, n_fft, hop, win, window)
        diff = torch.linalg.vector_norm(mag_real - mag_fake, dim=(1, 2))  # (B,)
        ref = torch.linalg.vector_norm(mag_real, dim=(1, 2)).clamp(min=1e-7)  # (B,)
        convergence = (diff / ref).mean()
        log_mag = (mag_real.log() - mag_fake.log()).abs().mean()
        total = total + convergence + log_mag
    return total / len(resolutions)
