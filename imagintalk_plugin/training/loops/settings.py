"""Training settings shared by every stage (one dataclass, saved with the trainer state)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    """How one stage trains; presets in `nn.presets`."""

    steps: int = 1000
    batch_size: int = 16  # utterances per step, summed over all processes
    lr: float = 1e-3  # peak AdamW learning rate
    weight_decay: float = 0.01  # on matrices only, never on norms and biases
    warmup: int = 100  # linear warm-up steps, then cosine to 10% of the peak
    grad_clip: float = 1.0  # global gradient-norm clip (0 = off)
    eval_every: int = 200  # validation interval, in steps
    save_every: int = 200  # checkpoint interval, in steps
    seed: int = 0  # model init, batch order and augmentation all derive from it
    max_frames: int = 150  # 25 Hz frames per training crop (6 s); longer clips are cut at random
    # lip-reading stages: per second of a training crop, one span of up to this many video
    # frames is replaced by the crop's mean frame (time masking, as Auto-AVSR), so the reader
    # learns from context rather than one mouth's frames; 0 = off
    time_mask_frames: int = 0
