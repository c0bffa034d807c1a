"""Log-mel front end of the acoustic branch: 16 kHz audio -> 80-band log-mel at 50 Hz.

One mel frame per codec token (hop 320 samples = 20 ms), so T frames stand for exactly T * hop
samples: the codec, the vocoder and the losses all rely on that contract. Frame t is centred on
sample t * hop (torch.stft with center=True, reflect padding); the frame that centre=True adds
past the end is dropped. Values are the natural log of Slaney-normalised mel magnitudes (not
power), clamped at 1e-5, the HiFi-GAN / Vocos convention. The filterbank is built here (librosa's
`filters.mel(htk=False, norm="slaney")` formula) so nn needs no librosa.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

# Fixed normalisation of log-mel inside the models: (x - MEAN) / SCALE. Log-mel of speech at
# ordinary levels spans about [-11.5 (the clamp, silence), +2]; these map it to about [-2.6, 2.8],
# roughly zero-mean and unit-scale, without data-dependent statistics in a checkpoint.
LOG_MEL_MEAN = -5.0
LOG_MEL_SCALE = 2.5
LOG_MEL_FLOOR = math.log(1e-5)  # the clamp: the value of digital silence


@dataclass(frozen=True)
class MelConfig:
    """The mel analysis; shared by the codec, the vocoder and their losses."""

    sample_rate: int = 16000
    n_fft: int = 1024  # 64 ms: resolves pitch harmonics down to ~100 Hz voices
    hop: int = 320  # 20 ms = 50 Hz, one frame per codec token
    win: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0  # Nyquist at 16 kHz


def num_frames(num_samples: int, hop: int) -> int:
    """Frames for `num_samples` audio samples: T frames <-> T * hop samples."""
    return num_samples // hop


def normalize_log_mel(log_mel: torch.Tensor) -> torch.Tensor:
    """Log-mel -> the models' input scale (fixed constants, see LOG_MEL_MEAN)."""
    return (log_mel - LOG_MEL_MEAN) / LOG_MEL_SCALE


def denormalize_log_mel(x: torch.Tensor) -> torch.Tensor:
    """The models' output scale -> log-mel; inverse of `normalize_log_mel`."""
    return x * LOG_MEL_SCALE + LOG_MEL_MEAN


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa, htk=False)."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    mel = hz / f_sp
    above = hz >= min_log_hz
    return np.where(above, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of `_hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    hz = f_sp * mel
    above = mel >= min_log_mel
    return np.where(above, min_log_hz * np.exp(logstep * (mel - min_log_mel)), hz)


def mel_filterbank(config: MelConfig) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) Slaney-normalised triangular filters, float32."""
    fft_freqs = np.linspace(0.0, config.sample_rate / 2, config.n_fft // 2 + 1)  # (F,)
    mel_edges = np.linspace(_hz_to_mel(config.fmin), _hz_to_mel(config.fmax), config.n_mels + 2)
    hz_edges = _mel_to_hz(mel_edges)  # (M + 2,)
    widths = np.diff(hz_edges)  # (M + 1,)
    ramps = hz_edges[:, None] - fft_freqs[None, :]  # (M + 2, F)
    lower = -ramps[:-2] / widths[:-1, None]  # (M, F)
    upper = ramps[2:] / widths[1:, None]  # (M, F)
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_edges[2:] - hz_edges[:-2]))[:, None]  # equal area per filter
    return weights.astype(np.float32)


class LogMel(nn.Module):
    """(B, N) audio -> (B, n_mels, N // hop) natural-log mel magnitudes."""

    def __init__(self, config: MelConfig | None = None) -> None:
        super().__init__()
        self.config = config or MelConfig()
        window = torch.hann_window(self.config.win)
        filters = torch.from_numpy(mel_filterbank(self.config))
        # derived from the config, so not in the state dict (checkpoints stay analysis-free)
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("filters", filters, persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (B, N) float -> log-mel (B, n_mels, T), T = N // hop."""
        with torch.autocast(audio.device.type, enabled=False):  # log of bf16 mels is too coarse
            return self._log_mel(audio.float())

    def _log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        frames = num_frames(audio.shape[-1], cfg.hop)
        short = cfg.n_fft // 2 + 1 - audio.shape[-1]
        if short > 0:  # reflect padding needs more samples than half a window; zeros beyond
            audio = nn.functional.pad(audio, (0, short))
        spec = torch.stft(
            audio,
            cfg.n_fft,
            hop_length=cfg.hop,
            win_length=cfg.win,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )  # (B, F, N // hop + 1)
        magnitude = spec[..., :frames].abs()  # (B, F, T)
        mel = torch.matmul(self.filters, magnitude)  # (B, M, T)
        return torch.log(torch.clamp(mel, min=1e-5))
