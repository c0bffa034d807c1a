"""Training the BERT refiner: a masked unit language model, then fine-tuned on lip posteriors.

Pretraining sees units of audio alone. Units repeat over several 50 Hz steps, so single-token
masking would be solved by copying a neighbour; spans are masked instead (mean length 8 steps,
15-60% of a sequence), like the runs of errors an aligner makes. Fine-tuning feeds the aligner's
out-of-fold tokens and posteriors, masks spans blind to whether the tokens are right (masks
chosen by correctness leak the answer: "masked" would mean "wrong", and the refiner would learn
to overturn the lips), and learns to put the true units back: its logits are added to the lip
log-posterior before the loss, so it learns a correction of the aligner rather than relearning
what the lips already say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from imagintalk_plugin.nn.refiner import (
    MASKINGS,
    REFINER_KIND,
    Masking,
    RefinerConfig,
    UnitRefiner,
    fuse_runs,
    run_log_probs,
)
from imagintalk_plugin.nn.sequences import pad_sequences
from imagintalk_plugin.training.loops.aligner_training import Predictions
from imagintalk_plugin.training.loops.corpus import IGNORE, item_rng, time_window, unit_targets
from imagintalk_plugin.training.loops.loop import Stage
from imagintalk_plugin.training.loops.metrics import paired_gain_interval, unit_scores
from imagintalk_plugin.training.loops.settings import TrainConfig
from imagintalk_plugin.training.loops.unit_noise import corrupt_runs, noise_rate

MEAN_SPAN = 8  # steps (160 ms): about one phone
VALID_STEP = 10**9  # fixed "step" seeding the validation masks: the same every time
VALID_NOISE = 0.45  # validation context corruption: about the aligner's rate on new voices


def span_mask(length: int, rng: np.random.Generator) -> np.ndarray:
    """(length,) bool: random spans covering 15-60% of the steps."""
    mask = np.zeros(length, dtype=bool)
    goal = round(length * rng.uniform(0.15, 0.6))
    while mask.sum() < goal:
        span = int(rng.geometric(1.0 / MEAN_SPAN))
        start = int(rng.integers(0, max(1, length - span + 1)))
        mask[start : start + span] = True
    return mask


def masked_batch(
    model: UnitRefiner, tokens: list[np.ndarray], targets: list[np.ndarray], masks: list[np.ndarray]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded (input ids with [MASK] where masked, targets, masks, padding) for the refiner."""
    x, pad = pad_sequences(
        [np.where(m, model.mask_id, t) for t, m in zip(tokens, masks, strict=True)], model.pad_id
    )
    y, _ = pad_sequences(targets, IGNORE)
    m, _ = pad_sequences(masks, False)
    return x, y, m, pad


def _masked_loss(
    logits: torch.Tensor, targets: torch.Tensor, masked: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    keep = masked & (targets != IGNORE)
    loss = nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.clamp(min=0).reshape(-1), reduction="none"
    )
    return (loss * keep.reshape(-1)).sum(), keep.sum()


def pretrain_stage(
    config: RefinerConfig,
    train: TrainConfig,
    units: list[np.ndarray],
    valid_units: list[np.ndarray],
    meta: dict,
    confusion: np.ndarray | None = None,
) -> Stage:
    """Masked unit language model over audio-only unit sequences.

    With `confusion` (`unit_noise.error_confusion` of the aligner's out-of-fold predictions),
    the unmasked context is corrupted like the aligner's tokens, fresh every step, so the model
    learns to read a noisy context; the targets stay the clean units.
    """
    torch.manual_seed(train.seed)
    model = UnitRefiner(config)
    size = min(config.max_positions, 2 * train.max_frames)

    def batch(
        items: list[int], seqs: list[np.ndarray], step: int, noise: float | None
    ) -> tuple[torch.Tensor, ...]:
        windows, inputs, masks = [], [], []
        for i in items:
            rng = item_rng(train.seed, step, i)
            windows.append(seqs[i][time_window(len(seqs[i]), size, rng)])
            masks.append(span_mask(len(windows[-1]), rng))
            if confusion is None:
                inputs.append(windows[-1])
            else:
                rate = noise_rate(rng) if noise is None else noise
                inputs.append(corrupt_runs(windows[-1], confusion, rate, rng))
        return masked_batch(model, inputs, windows, masks)

    def loss_fn(
        trained: nn.Module, items: list[int], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(trained.parameters()).device
        x, y, m, pad = (t.to(device) for t in batch(items, units, step, None))
        return _masked_loss(trained(x, None, pad), y, m)

    @torch.no_grad()
    def masked_accuracy(model_: nn.Module, noise: float | None) -> float:
        device = next(model_.parameters()).device
        correct = total = 0
        for start in range(0, len(valid_units), 16):
            items = list(range(start, min(len(valid_units), start + 16)))
            x, y, m, pad = (t.to(device) for t in batch(items, valid_units, VALID_STEP, noise))
            pred = model_(x, None, pad).argmax(-1)
            keep = m & (y != IGNORE)
            correct += int(((pred == y) & keep).sum())
            total += int(keep.sum())
        return correct / max(1, total)

    def evaluate(model_: nn.Module) -> dict[str, float]:
        if not valid_units:
            return {}
        model_.eval()
        scores = {"valid_masked_unit_acc": masked_accuracy(model_, 0.0)}
        if confusion is not None:
            scores["valid_masked_unit_acc_noisy"] = masked_accuracy(model_, VALID_NOISE)
        return scores

    return Stage(
        "refiner LM", REFINER_KIND, model, config, train, len(units), loss_fn, evaluate, meta
    )


def finetune_stage(
    model: UnitRefiner,
    train: TrainConfig,
    predictions: Predictions,
    units: list[np.ndarray],
    valid_predictions: Predictions,
    valid_flags: list[np.ndarray],
    valid_units: list[np.ndarray],
    passes: int,
    meta: dict,
) -> Stage:
    """Fine-tuning on out-of-fold aligner outputs with lip posteriors added to the input."""
    config = model.config
    size = min(config.max_positions, 2 * train.max_frames)
    targets_all = [
        unit_targets(u, len(t) // 2) for t, u in zip(predictions.tokens, units, strict=True)
    ]

    def loss_fn(
        trained: nn.Module, items: list[int], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(trained.parameters()).device
        inputs, targets, masks, lips = [], [], [], []
        for i in items:
            rng = item_rng(train.seed, step, i)
            w = time_window(len(predictions.tokens[i]), size, rng)
            tokens, target = predictions.tokens[i][w], targets_all[i][w]
            # masks blind to correctness: masking mostly wrong tokens would teach the refiner
            # that a masked token is wrong, and at inference it would overturn right ones
            mask = span_mask(len(tokens), rng)
            inputs.append(tokens)
            targets.append(target)
            masks.append(mask)
            lips.append(predictions.log_probs[i][w].astype(np.float32))
        x, y, m, pad = masked_batch(model, inputs, targets, masks)
        lp, _ = pad_sequences(lips, 0.0)
        lp = lp.to(device)
        logits = trained(x.to(device), lp, pad.to(device)) + lp  # a correction of the lips
        return _masked_loss(logits, y.to(device), m.to(device))

    def evaluate(model_: nn.Module) -> dict[str, float]:
        assert isinstance(model_, UnitRefiner)
        scores = refinement_scores(model_, valid_predictions, valid_flags, valid_units, passes)
        return {f"valid_{k}": v for k, v in scores.items()}

    n = len(predictions.tokens)
    return Stage("refiner", REFINER_KIND, model, config, train, n, loss_fn, evaluate, meta)


def refinement_scores(
    model: UnitRefiner,
    predictions: Predictions,
    flags: list[np.ndarray],
    units: list[np.ndarray],
    passes: int,
    lm_weight: float | None = None,
    masking: Masking = "all",
) -> dict[str, float]:
    """Unit accuracy and edit distance before and after refining the flagged tokens."""
    if not predictions.tokens:
        return {}
    refined = [
        model.refine(t, f, lp.astype(np.float32), passes, lm_weight, masking)
        for t, f, lp in zip(predictions.tokens, flags, predictions.log_probs, strict=True)
    ]
    return refined_scores(predictions, refined, flags, units)


def refined_scores(
    predictions: Predictions,
    refined: list[np.ndarray],
    flags: list[np.ndarray],
    units: list[np.ndarray],
) -> dict[str, float]:
    """`refinement_scores` for tokens already refined."""
    refs = [u[: len(t)] for t, u in zip(predictions.tokens, units, strict=True)]
    before = unit_scores(predictions.tokens, refs)
    after = unit_scores(refined, refs)
    gains = [
        int((r[: len(u)] == u).sum()) - int((t[: len(u)] == u).sum())
        for r, t, u in zip(refined, predictions.tokens, refs, strict=True)
    ]
    low, high = paired_gain_interval(np.array(gains), np.array([len(u) for u in refs]))
    changed = sum(int((r != t).sum()) for r, t in zip(refined, predictions.tokens, strict=True))
    steps = sum(len(t) for t in predictions.tokens)
    return {
        "unit_acc_before": before["unit_acc"],
        "unit_acc_after": after["unit_acc"],
        "unit_acc_gain_low": low,  # paired bootstrap 95% interval of after - before
        "unit_acc_gain_high": high,
        "unit_edit_before": before["unit_edit"],
        "unit_edit_after": after["unit_edit"],
        "changed_share": changed / max(1, steps),
        "flagged_share": sum(int(f.sum()) for f in flags) / max(1, steps),
    }


THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CALIBRATED_MASKINGS: tuple[Masking, ...] = MASKINGS
LM_WEIGHTS = (0.25, 0.5, 1.0, 1.5)


def calibrate(
    model: UnitRefiner,
    predictions: Predictions,
    wrong_probs: list[np.ndarray],
    units: list[np.ndarray],
    passes: int,
    maskings: tuple[Masking, ...] = CALIBRATED_MASKINGS,
) -> dict[str, Any]:
    """The masking (of `maskings`), detector threshold and fusion weight with the best
    validation accuracy after refinement (the held-out test speakers never take part)."""
    best: dict[str, Any] = {"threshold": 1.0, "lm_weight": 0.0, "unit_acc_after": -1.0}
    lips = [lp.astype(np.float32) for lp in predictions.log_probs]
    for masking in maskings:
        for threshold in THRESHOLDS:
            flags = [p >= threshold for p in wrong_probs]
            refine = _refiner_at(model, predictions.tokens, lips, flags, passes, masking)
            for weight in LM_WEIGHTS:
                acc = refined_scores(predictions, refine(weight), flags, units)
                if acc["unit_acc_after"] > best["unit_acc_after"]:
                    best = {"threshold": threshold, "lm_weight": weight, "masking": masking}
                    best.update(acc)
    return best


def _refiner_at(
    model: UnitRefiner,
    tokens: list[np.ndarray],
    lips: list[np.ndarray],
    flags: list[np.ndarray],
    passes: int,
    masking: Masking,
) -> Callable[[float], list[np.ndarray]]:
    """weight -> every clip refined with these flags; "runs" reads the refiner once for all
    weights (its log-probs do not depend on the weight)."""
    clips = list(zip(tokens, lips, flags, strict=True))
    if masking != "runs":
        return lambda weight: [
            model.refine(t, f, lp, passes, weight, masking) for t, lp, f in clips
        ]
    model.eval()
    device = next(model.parameters()).device
    runs = [run_log_probs(model, model.config, device, t, lp, f) for t, lp, f in clips]
    return lambda weight: [
        fuse_runs(t, f, lp, r, weight) for (t, lp, f), r in zip(clips, runs, strict=True)
    ]
