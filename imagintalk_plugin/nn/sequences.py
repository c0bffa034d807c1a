"""Batching variable-length sequences: padded stacks with their pad masks."""

from __future__ import annotations

import numpy as np
import torch


def pad_sequences(
    arrays: list[np.ndarray], value: float | int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (T_i, ...) arrays into (B, T_max, ...) with `value` padding, and a (B, T) pad mask."""
    longest = max(len(a) for a in arrays)
    shape = (len(arrays), longest, *arrays[0].shape[1:])
    out = np.full(shape, value, dtype=arrays[0].dtype)
    pad = np.ones((len(arrays), longest), dtype=bool)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
        pad[i, : len(a)] = False
    return torch.from_numpy(out), torch.from_numpy(pad)
