"""Error detector: for each of the aligner's tokens, the probability that it is wrong.

It reads what the aligner produced (its token, that token's confidence and its whole unit
distribution, the "lip posteriors"), mixes them over time with a small Transformer, and outputs
one logit per 50 Hz step. Posteriors rather than the aligner's hidden features: they live in the
unit space every aligner shares, so a detector trained on fold aligners' outputs works on the
final aligner's. It is trained on the aligner's predictions for clips the aligner did not train
on (held-out folds), so the errors it learns from are honest ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from imagintalk_plugin.nn.conformer import TemporalEncoder

DETECTOR_KIND = "imagintalk/detector"  # checkpoint kind of this model family


@dataclass(frozen=True)
class DetectorConfig:
    """The detector's shape; presets in `nn.presets`."""

    num_units: int = 200  # the aligner's vocabulary
    dim: int = 128
    layers: int = 2
    heads: int = 4
    ff_mult: int = 4
    dropout: float = 0.1


class ErrorDetector(nn.Module):
    """(tokens, confidence, lip posteriors) -> per-step logit of 'this token is wrong'."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.num_units, config.dim)
        self.posterior_proj = nn.Linear(config.num_units, config.dim)
        # the confidence enters as itself and as its log-odds, which separate near 0 and 1
        self.confidence_proj = nn.Linear(2, config.dim)
        self.encoder = TemporalEncoder(
            config.dim,
            config.layers,
            config.heads,
            config.ff_mult,
            0,
            config.dropout,
            "transformer",
        )
        self.head = nn.Linear(config.dim, 1)

    def forward(
        self,
        tokens: torch.Tensor,
        confidence: torch.Tensor,
        log_probs: torch.Tensor,
        pad: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """tokens (B, T), confidence (B, T), log_probs (B, T, K) -> logits (B, T)."""
        c = confidence.clamp(1e-4, 1 - 1e-4)
        conf = torch.stack([c, torch.log(c) - torch.log1p(-c)], dim=-1)  # (B, T, 2)
        x = (
            self.token_embedding(tokens)
            + self.posterior_proj(log_probs)
            + self.confidence_proj(conf)
        )
        return self.head(self.encoder(x, pad))[..., 0]  # (B, T)

    @torch.no_grad()
    def predict(
        self, tokens: np.ndarray, confidence: np.ndarray, log_probs: np.ndarray
    ) -> np.ndarray:
        """(T,) probability that each token of one clip is wrong."""
        self.eval()
        device = next(self.parameters()).device
        logits = self(
            torch.from_numpy(tokens)[None].to(device),
            torch.from_numpy(confidence)[None].to(device),
            torch.from_numpy(log_probs.astype(np.float32))[None].to(device),
        )
        return torch.sigmoid(logits[0]).cpu().numpy().astype(np.float32)
