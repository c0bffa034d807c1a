"""Visual encoder: 88x88 mouth crops at 25 Hz -> lip features at 50 Hz.

The lip-reading front of Auto-AVSR / VSR models: a 3D-convolution stem sees five frames of
motion, a ResNet trunk encodes each frame, a Conformer (or Transformer) mixes over time, and a
learned 2x upsampler emits two 50 Hz steps per video frame, the rate of the speech units.

Beside (or instead of) the pixels it can read the lip shape: per-frame landmark geometry
(`frontend.lip_shape`, normalised here by statistics of the training clips kept as buffers),
through a small MLP into the same width, added to the pixel trunk's output before the
temporal encoder (`inputs` = "pixels", "shape" or "both").

Normalisation is GroupNorm throughout (not BatchNorm): results do not depend on what else is in
the batch, so distributed training on N processes equals one process, and inference on one clip
equals inference in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from imagintalk_plugin.nn.conformer import TemporalEncoder

MOUTH_MEAN = 0.421  # grey level of the front-end's mouth crops (frontend.alignment)
MOUTH_STD = 0.165


@dataclass(frozen=True)
class VisualEncoderConfig:
    """Shape of the visual encoder; presets in `nn.presets`."""

    crop_size: int = 88  # centre crop of the front-end's 96x96 (random crop when training)
    input_pool: int = 1  # average-pool the crops by this factor first (2: 44x44, 4x less compute)
    stem_channels: int = 16  # 3D stem: kernel 5x7x7, stride 1x2x2, then 3x3 max-pool /2
    trunk_channels: tuple[int, ...] = (16, 32, 64, 128)  # one ResNet stage per entry
    blocks_per_stage: tuple[int, ...] = (1, 1, 1, 1)  # (2, 2, 2, 2) is ResNet-18
    dim: int = 192  # temporal encoder width
    layers: int = 4
    heads: int = 4
    ff_mult: int = 4
    conv_kernel: int = 15  # Conformer depthwise kernel, in 25 Hz frames
    encoder: str = "conformer"  # or "transformer"
    dropout: float = 0.1
    inputs: str = "pixels"  # "pixels" (mouth crops), "shape" (lip landmarks) or "both"
    shape_dim: int = 118  # frontend.lip_shape.LIP_SHAPE_DIM (checked by the pipeline)

    ADDED_KEYS: ClassVar[tuple[str, ...]] = ("inputs", "shape_dim")
    INPUTS: ClassVar[tuple[str, ...]] = ("pixels", "shape", "both")

    @property
    def uses_pixels(self) -> bool:
        """Whether the mouth crops are read."""
        return self.inputs in ("pixels", "both")

    @property
    def uses_shape(self) -> bool:
        """Whether the lip-shape features are read."""
        return self.inputs in ("shape", "both")


def _groups(channels: int) -> int:
    for groups in (8, 4, 2, 1):
        if channels % groups == 0:
            return groups
    return 1


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs) with GroupNorm."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm1 = nn.GroupNorm(_groups(cout), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.GroupNorm(_groups(cout), cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return torch.relu(y + self.skip(x))


class VisualEncoder(nn.Module):
    """(B, T, H, W) mouth crops at 25 Hz -> (B, 2T, dim) features at 50 Hz."""

    def __init__(self, config: VisualEncoderConfig) -> None:
        super().__init__()
        if config.inputs not in config.INPUTS:
            raise ValueError(f"inputs must be one of {config.INPUTS}, not '{config.inputs}'")
        self.config = config
        if config.uses_pixels:
            self._build_pixel_trunk(config)
        if config.uses_shape:
            d = config.dim
            self.shape_project = nn.Sequential(
                nn.Linear(config.shape_dim, d), nn.GELU(), nn.Linear(d, d)
            )
            # per-feature statistics of the training clips (set by `set_shape_stats`)
            self.register_buffer("shape_mean", torch.zeros(config.shape_dim))
            self.register_buffer("shape_std", torch.ones(config.shape_dim))
        self.temporal = TemporalEncoder(
            config.dim,
            config.layers,
            config.heads,
            config.ff_mult,
            config.conv_kernel,
            config.dropout,
            config.encoder,
        )
        self.upsample = nn.Linear(config.dim, 2 * config.dim)  # one 25 Hz frame -> two 50 Hz steps
        self.out_norm = nn.LayerNorm(config.dim)

    def _build_pixel_trunk(self, config: VisualEncoderConfig) -> None:
        c = config.stem_channels
        self.stem = nn.Conv3d(1, c, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False)
        # normalised per frame (not over time), so padding never changes a clip's result
        self.stem_out = nn.Sequential(nn.GroupNorm(_groups(c), c), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        stages: list[nn.Module] = []
        cin = c
        for index, (cout, blocks) in enumerate(
            zip(config.trunk_channels, config.blocks_per_stage, strict=True)
        ):
            for block in range(blocks):
                stride = 2 if index > 0 and block == 0 else 1
                stages.append(BasicBlock(cin, cout, stride))
                cin = cout
        self.trunk = nn.Sequential(*stages)
        self.project = nn.Linear(cin, config.dim)

    def set_shape_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Normalise lip-shape features by these (shape_dim,) statistics of the training clips."""
        self.shape_mean.copy_(mean)
        self.shape_std.copy_(std.clamp(min=1e-6))

    def forward(
        self,
        crops: torch.Tensor,
        pad: torch.Tensor | None = None,
        shape: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`crops` (B, T, H, W) in [0, 1]; `pad` (B, T) True on padded frames; `shape`
        (B, T, shape_dim) lip-shape features (needed when the config reads them)."""
        b, t = crops.shape[:2]
        x = self._pixels(crops, pad) if self.config.uses_pixels else None
        if self.config.uses_shape:
            if shape is None:
                raise ValueError("this visual encoder reads lip-shape features: pass `shape`")
            z = (shape - self.shape_mean) / self.shape_std
            if pad is not None:
                z = z.masked_fill(pad[:, :, None], 0.0)
            z = self.shape_project(z)  # (B, T, D)
            x = z if x is None else x + z
        assert x is not None
        x = self.temporal(x, pad)  # (B, T, D)
        x = self.upsample(x).reshape(b, 2 * t, -1)  # (B, 2T, D)
        return self.out_norm(x)

    def _pixels(self, crops: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        """(B, T, H, W) crops -> (B, T, D) per-frame features of the pixel trunk."""
        b, t = crops.shape[:2]
        x = (crops - MOUTH_MEAN) / MOUTH_STD
        if self.config.input_pool > 1:
            x = nn.functional.avg_pool2d(x, self.config.input_pool)  # (B, T, H/p, W/p)
        if pad is not None:
            x = x.masked_fill(pad[:, :, None, None], 0.0)
        x = self.stem(x[:, None])  # (B, C, T, H/2, W/2)
        x = x.transpose(1, 2).reshape(b * t, x.shape[1], x.shape[3], x.shape[4])
        x = self.trunk(self.stem_out(x)).mean(dim=(2, 3))  # (B*T, C')
        return self.project(x).reshape(b, t, -1)  # (B, T, D)
