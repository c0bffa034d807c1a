"""Temporal encoders over per-frame features: Conformer (Gulati et al. 2020) or Transformer.

Positions are relative through the convolution module and absolute through a sinusoidal
table added once at the input, so any length runs (ONNX export needs no fixed T). Padding is a
boolean mask (True = padded step) honoured by attention and zeroed before each convolution.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """(length, dim) sinusoidal position table (Vaswani et al.)."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]  # (T, 1)
    scale = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )  # (D/2,)
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * scale)
    table[:, 1::2] = torch.cos(position * scale[: dim // 2])
    return table


class FeedForward(nn.Module):
    """LayerNorm -> Linear -> SiLU -> Linear, the Conformer's macaron half-step."""

    def __init__(self, dim: int, mult: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, dim * mult),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(dim * mult, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvModule(nn.Module):
    """Pointwise GLU -> depthwise conv over time -> LayerNorm -> SiLU -> pointwise."""

    def __init__(self, dim: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.pointwise_in = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        # a per-step LayerNorm instead of BatchNorm: independent of the batch and of padding,
        # so DDP equals one process and a clip gives the same result alone or in a batch
        self.norm_conv = nn.LayerNorm(dim)
        self.pointwise_out = nn.Conv1d(dim, dim, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        y = self.norm(x)  # (B, T, D)
        y = nn.functional.glu(self.pointwise_in(y.transpose(1, 2)), dim=1)  # (B, D, T)
        if pad is not None:  # padding must look like the depthwise conv's own zero padding
            y = y.masked_fill(pad[:, None, :], 0.0)
        y = self.norm_conv(self.depthwise(y).transpose(1, 2))  # (B, T, D)
        y = self.pointwise_out(nn.functional.silu(y).transpose(1, 2))  # (B, D, T)
        return self.dropout(y.transpose(1, 2))  # (B, T, D)


class ConformerBlock(nn.Module):
    """FF/2 -> self-attention -> convolution -> FF/2 -> LayerNorm, each residual."""

    def __init__(self, dim: int, heads: int, ff_mult: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.ff1 = FeedForward(dim, ff_mult, dropout)
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.attn_dropout = nn.Dropout(dropout)
        self.conv = ConvModule(dim, kernel, dropout)
        self.ff2 = FeedForward(dim, ff_mult, dropout)
        self.out_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        x = x + 0.5 * self.ff1(x)
        y = self.attn_norm(x)
        y, _ = self.attn(y, y, y, key_padding_mask=pad, need_weights=False)
        x = x + self.attn_dropout(y)
        x = x + self.conv(x, pad)
        x = x + 0.5 * self.ff2(x)
        return self.out_norm(x)


class TransformerBlock(nn.Module):
    """Pre-norm Transformer encoder block (the `encoder: transformer` option)."""

    def __init__(self, dim: int, heads: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.attn_dropout = nn.Dropout(dropout)
        self.ff = FeedForward(dim, ff_mult, dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        y = self.attn_norm(x)
        y, _ = self.attn(y, y, y, key_padding_mask=pad, need_weights=False)
        x = x + self.attn_dropout(y)
        return x + self.ff(x)


class TemporalEncoder(nn.Module):
    """A stack of Conformer or Transformer blocks with sinusoidal input positions."""

    def __init__(
        self,
        dim: int,
        layers: int,
        heads: int,
        ff_mult: int,
        kernel: int,
        dropout: float,
        kind: str = "conformer",
    ) -> None:
        super().__init__()
        if kind not in ("conformer", "transformer"):
            raise ValueError(f"encoder kind must be conformer or transformer, not {kind!r}")
        self.blocks = nn.ModuleList(
            ConformerBlock(dim, heads, ff_mult, kernel, dropout)
            if kind == "conformer"
            else TransformerBlock(dim, heads, ff_mult, dropout)
            for _ in range(layers)
        )
        self.final_norm = nn.LayerNorm(dim) if kind == "transformer" else nn.Identity()

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, D) -> (B, T, D); `pad` (B, T) True where a step is padding."""
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device)[None]
        for block in self.blocks:
            x = block(x, pad)
        return self.final_norm(x)
