"""Discrete lip aligner: mouth crops -> one speech unit per 50 Hz step, with a confidence.

The visual encoder's 50 Hz features go through a linear head over the unit vocabulary; it is
trained with cross-entropy against the units of the ground-truth audio. Its features are also
what the error detector and the refiner see, so `predict` returns them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from imagintalk_plugin.core.signals import TokenSequence
from imagintalk_plugin.nn.visual_encoder import VisualEncoder, VisualEncoderConfig

ALIGNER_KIND = "imagintalk/aligner"  # checkpoint kind of this model family

UNIT_RATE_HZ = 50.0
VIDEO_FPS = 25.0


@dataclass(frozen=True)
class AlignerConfig:
    """The aligner: a visual encoder and a unit head."""

    encoder: VisualEncoderConfig = field(default_factory=VisualEncoderConfig)
    num_units: int = 200  # must equal the unit extractor's K (checked when loading)
    label_smoothing: float = 0.1  # neighbouring k-means units are often equally right


@dataclass(frozen=True)
class AlignerOutput:
    """What the aligner says about one clip, at 50 Hz."""

    tokens: np.ndarray  # (T,) int64
    confidence: np.ndarray  # (T,) float32, probability of the chosen unit
    log_probs: np.ndarray  # (T, K) float32, lip posteriors for the detector and refiner
    features: np.ndarray  # (T, D) float32, the encoder's lip features


def center_crop(crops: np.ndarray, size: int) -> np.ndarray:
    """(T, H, W) -> (T, size, size) from the middle; the front-end stores 96x96 crops."""
    h, w = crops.shape[1:]
    if h < size or w < size:
        raise ValueError(f"mouth crops are {h}x{w}, the model needs at least {size}x{size}")
    top, left = (h - size) // 2, (w - size) // 2
    return crops[:, top : top + size, left : left + size]


def crops_to_unit_range(crops: np.ndarray) -> np.ndarray:
    """uint8 or float crops as float32 in [0, 1]."""
    if crops.dtype == np.uint8:
        return crops.astype(np.float32) / 255.0
    return crops.astype(np.float32, copy=False)


class LipAligner(nn.Module):
    """Visual encoder + unit head."""

    def __init__(self, config: AlignerConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = VisualEncoder(config.encoder)
        self.head = nn.Linear(config.encoder.dim, config.num_units)

    def forward(
        self,
        crops: torch.Tensor,
        pad: torch.Tensor | None = None,
        shape: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, H, W) crops, (B, T) padding, (B, T, F) lip-shape features (aligners that read
        them) -> logits (B, 2T, K), features (B, 2T, D)."""
        features = self.encoder(crops, pad, shape)
        return self.head(features), features

    @property
    def reads_shape(self) -> bool:
        """Whether this aligner needs lip-shape features (`frontend.lip_shape`)."""
        return self.config.encoder.uses_shape

    @torch.no_grad()
    def predict(self, crops: np.ndarray, shape: np.ndarray | None = None) -> AlignerOutput:
        """Units of one clip: `crops` (T, H, W) at 25 fps (and its (T, F) lip-shape features,
        for aligners that read them) -> 2T steps at 50 Hz."""
        self.eval()
        device = next(self.parameters()).device
        x = center_crop(crops_to_unit_range(crops), self.config.encoder.crop_size)
        z = None if shape is None else torch.from_numpy(np.asarray(shape, np.float32))[None]
        logits, features = self(
            torch.from_numpy(np.ascontiguousarray(x))[None].to(device),
            None,
            None if z is None else z.to(device),
        )
        log_probs = logits[0].log_softmax(-1)  # (2T, K)
        top, tokens = log_probs.max(-1)
        return AlignerOutput(
            tokens=tokens.cpu().numpy().astype(np.int64),
            confidence=top.exp().cpu().numpy().astype(np.float32),
            log_probs=log_probs.cpu().numpy().astype(np.float32),
            features=features[0].cpu().numpy().astype(np.float32),
        )


def as_token_sequence(
    output: AlignerOutput, codebook_id: str, codebook_version: str
) -> TokenSequence:
    """The aligner's units as the TokenSequence the rest of the pipeline passes on."""
    return TokenSequence(
        tokens=output.tokens,
        rate_hz=UNIT_RATE_HZ,
        codebook_id=codebook_id,
        codebook_version=codebook_version,
        confidence=output.confidence,
    )
