"""Visual encoder: 88x88 mouth crops at 25 Hz -> lip features at 50 Hz.

The lip-reading front of Auto-AVSR / VSR models: a 3D-convolution stem sees five frames of
motion, a ResNet trunk encodes each frame, a Conformer (or Transformer) mixes over time, and a
learned 2x upsampler emits two 50 Hz steps per video frame, the rate of the speech units.

Normalisation is GroupNorm throughout (not BatchNorm): results do not depend on what else is in
the batch, so distributed training on N processes equals one process, and inference on one clip
equals inference in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        self.config = config
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

    def forward(self, crops: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        """`crops` (B, T, H, W) in [0, 1]; `pad` (B, T) True on padded frames."""
        b, t = crops.shape[:2]
        x = (crops - MOUTH_MEAN) / MOUTH_STD
        if self.config.input_pool > 1:
            x = nn.functional.avg_pool2d(x, self.config.input_pool)  # (B, T, H/p, W/p)
        if pad is not None:
            x = x.masked_fill(pad[:, :, None, None], 0.0)
        x = self.stem(x[:, None])  # (B, C, T, H/2, W/2)
        x = x.transpose(1, 2).reshape(b * t, x.shape[1], x.shape[3], x.shape[4])
        x = self.trunk(self.stem_out(x)).mean(dim=(2, 3))  # (B*T, C')
        x = self.project(x).reshape(b, t, -1)  # (B, T, D)
        x = self.temporal(x, pad)  # (B, T, D)
        x = self.upsample(x).reshape(b, 2 * t, -1)  # (B, 2T, D)
        return self.out_norm(x)
