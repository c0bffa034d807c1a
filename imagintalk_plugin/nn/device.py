"""Which torch device a model runs on: the one choice inference and training share."""

from __future__ import annotations

import torch


def pick_device(name: str | None) -> torch.device:
    """`cpu`, `cuda` or None (cuda when there is one)."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(name)
