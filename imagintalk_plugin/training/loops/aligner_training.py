"""Training the discrete lip aligner: cross-entropy against the units of the true audio."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from imagintalk_plugin.nn.lip_aligner import ALIGNER_KIND, AlignerConfig, LipAligner
from imagintalk_plugin.training.loops.corpus import (
    IGNORE,
    LipClip,
    item_rng,
    lip_batch,
    unit_targets,
)
from imagintalk_plugin.training.loops.loop import Stage
from imagintalk_plugin.training.loops.metrics import majority_baseline, unit_scores
from imagintalk_plugin.training.loops.settings import TrainConfig


@dataclass(frozen=True, eq=False)
class Predictions:
    """The aligner's outputs on a list of clips, 50 Hz, one array per clip."""

    tokens: list[np.ndarray]  # (T,) int64
    confidence: list[np.ndarray]  # (T,) float32
    log_probs: list[np.ndarray]  # (T, K) float16 (posteriors are kept compact)

    def select(self, indices: list[int]) -> Predictions:
        """The predictions of the clips at `indices`, in that order."""
        return Predictions(
            [self.tokens[i] for i in indices],
            [self.confidence[i] for i in indices],
            [self.log_probs[i] for i in indices],
        )


def aligner_stage(
    config: AlignerConfig,
    train: TrainConfig,
    clips: list[LipClip],
    units: list[np.ndarray],
    valid_clips: list[LipClip],
    valid_units: list[np.ndarray],
    meta: dict,
) -> Stage:
    """The aligner as a `Stage` for `run_stage` (model built with the training seed; one that
    reads the lip shape normalises it by the training clips' statistics)."""
    torch.manual_seed(train.seed)
    model = LipAligner(config)
    if config.encoder.uses_shape:
        mean, std = shape_statistics(clips)
        model.encoder.set_shape_stats(mean, std)
    targets = [unit_targets(u, len(c)) for c, u in zip(clips, units, strict=True)]
    criterion = nn.CrossEntropyLoss(
        ignore_index=IGNORE, label_smoothing=config.label_smoothing, reduction="sum"
    )

    def loss_fn(
        trained: nn.Module, items: list[int], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(trained.parameters()).device
        batch = lip_batch(
            [clips[i] for i in items],
            [targets[i] for i in items],
            crop_size=config.encoder.crop_size,
            max_frames=train.max_frames,
            rngs=[item_rng(train.seed, step, i) for i in items],
            time_mask_frames=train.time_mask_frames,
        )
        shape = None if batch.shape is None else batch.shape.to(device)
        logits, _ = trained(batch.crops.to(device), batch.pad.to(device), shape)  # (B, 2T, K)
        y = batch.targets.to(device)
        loss = criterion(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return loss, (y != IGNORE).sum()

    def evaluate(model: nn.Module) -> dict[str, float]:
        assert isinstance(model, LipAligner)
        return aligner_metrics(model, valid_clips, valid_units, units, prefix="valid_")

    return Stage("aligner", ALIGNER_KIND, model, config, train, len(clips), loss_fn, evaluate, meta)


def shape_statistics(clips: list[LipClip]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and spread of the clips' lip-shape features (every frame)."""
    shapes = [c.shape for c in clips if c.shape is not None]
    if len(shapes) != len(clips) or not shapes:
        raise ValueError("an aligner that reads the lip shape needs every clip's features")
    frames = np.concatenate(shapes).astype(np.float64)
    return torch.from_numpy(frames.mean(0)).float(), torch.from_numpy(frames.std(0)).float()


@torch.no_grad()
def predict_clips(model: LipAligner, clips: list[LipClip], batch_size: int = 8) -> Predictions:
    """The aligner's tokens, confidences and posteriors for each clip (centre crops)."""
    model.eval()
    device = next(model.parameters()).device
    tokens, confidence, log_probs = [], [], []
    for start in range(0, len(clips), batch_size):
        part = clips[start : start + batch_size]
        empty = [np.zeros(2 * len(c.crops), dtype=np.int64) for c in part]
        batch = lip_batch(part, empty, crop_size=model.config.encoder.crop_size, max_frames=10**9)
        shape = None if batch.shape is None else batch.shape.to(device)
        logits, _ = model(batch.crops.to(device), batch.pad.to(device), shape)
        lp = logits.log_softmax(-1)  # (B, 2T, K)
        top, best = lp.max(-1)
        for i, clip in enumerate(part):
            n = 2 * len(clip.crops)
            tokens.append(best[i, :n].cpu().numpy().astype(np.int64))
            confidence.append(top[i, :n].exp().cpu().numpy().astype(np.float32))
            log_probs.append(lp[i, :n].cpu().numpy().astype(np.float16))
    return Predictions(tokens, confidence, log_probs)


def aligner_metrics(
    model: LipAligner,
    clips: list[LipClip],
    units: list[np.ndarray],
    train_units: list[np.ndarray],
    prefix: str,
) -> dict[str, float]:
    """Unit accuracy / edit distance on `clips`, beside the most-frequent-unit baseline."""
    if not clips:
        return {}
    predictions = predict_clips(model, clips)
    return prediction_scores(predictions, units, train_units, model.config.num_units, prefix)


def prediction_scores(
    predictions: Predictions,
    units: list[np.ndarray],
    train_units: list[np.ndarray],
    num_units: int,
    prefix: str,
) -> dict[str, float]:
    """`aligner_metrics` from already computed predictions (2 steps per video frame)."""
    refs = [u[: len(t)] for t, u in zip(predictions.tokens, units, strict=True)]
    scores = unit_scores(predictions.tokens, refs)
    baseline = majority_baseline(train_units, refs)
    return {
        f"{prefix}unit_acc": scores["unit_acc"],
        f"{prefix}unit_edit": scores["unit_edit"],
        f"{prefix}majority_acc": baseline["unit_acc"],
        f"{prefix}chance_acc": 1.0 / num_units,
    }
