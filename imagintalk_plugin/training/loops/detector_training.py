"""Training the error detector on honest errors: the aligner's predictions on held-out folds.

An aligner is always right-ish on the clips it trained on, so its errors there teach nothing.
The training speakers are split into folds; for each fold an aligner (same config) trains on
the other folds and predicts this one. The detector then learns, over all training clips, when
such out-of-fold predictions are wrong. Folds go by speaker, like the held-out test speakers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from imagintalk_plugin.core.progress import Job
from imagintalk_plugin.nn.error_detector import DETECTOR_KIND, DetectorConfig, ErrorDetector
from imagintalk_plugin.nn.lip_aligner import AlignerConfig, LipAligner
from imagintalk_plugin.nn.sequences import pad_sequences
from imagintalk_plugin.training.loops.aligner_training import (
    Predictions,
    aligner_stage,
    predict_clips,
)
from imagintalk_plugin.training.loops.corpus import (
    IGNORE,
    LipClip,
    item_rng,
    time_window,
    unit_targets,
)
from imagintalk_plugin.training.loops.distributed import DistributedContext
from imagintalk_plugin.training.loops.loop import Stage, train_or_load
from imagintalk_plugin.training.loops.metrics import detector_scores
from imagintalk_plugin.training.loops.settings import TrainConfig


def speaker_folds(speakers: list[str], folds: int, seed: int) -> np.ndarray:
    """(N,) fold index of each utterance; every speaker's utterances share one fold."""
    names = sorted(set(speakers))
    if len(names) < folds:
        raise ValueError(
            f"{folds} folds need at least {folds} training speakers, found {len(names)}"
        )
    order = np.random.default_rng([seed, 11]).permutation(len(names))
    fold_of = {names[j]: rank % folds for rank, j in enumerate(order)}
    return np.array([fold_of[s] for s in speakers], dtype=np.int64)


def out_of_fold_predictions(
    aligner: AlignerConfig,
    fold_train: TrainConfig,
    clips: list[LipClip],
    units: list[np.ndarray],
    speakers: list[str],
    folds: int,
    out: Path,
    ctx: DistributedContext,
    *,
    resume: bool,
) -> Job[Predictions]:
    """Job: every training clip's prediction by an aligner that never saw its speaker."""
    fold_of = speaker_folds(speakers, folds, fold_train.seed)
    n = len(clips)
    tokens: list[np.ndarray] = [np.zeros(0, np.int64)] * n
    confidence: list[np.ndarray] = [np.zeros(0, np.float32)] * n
    log_probs: list[np.ndarray] = [np.zeros((0, 0), np.float16)] * n
    for fold in range(folds):
        train_ids = [i for i in range(n) if fold_of[i] != fold]
        held = [i for i in range(n) if fold_of[i] == fold]
        stage = aligner_stage(
            aligner,
            fold_train,
            [clips[i] for i in train_ids],
            [units[i] for i in train_ids],
            [],
            [],
            meta={"fold": fold, "folds": folds},
        )
        stage.name = f"fold aligner {fold + 1}/{folds}"
        model = yield from train_or_load(stage, out / f"fold{fold}", ctx, resume=resume)
        assert isinstance(model, LipAligner)
        predicted = predict_clips(model, [clips[i] for i in held])
        for j, i in enumerate(held):
            tokens[i] = predicted.tokens[j]
            confidence[i] = predicted.confidence[j]
            log_probs[i] = predicted.log_probs[j]
    return Predictions(tokens, confidence, log_probs)


def wrong_labels(predictions: Predictions, units: list[np.ndarray]) -> list[np.ndarray]:
    """(T,) int64 per clip: 1 where the token differs from the true unit, IGNORE where none."""
    labels = []
    for tokens, u in zip(predictions.tokens, units, strict=True):
        target = unit_targets(u, len(tokens) // 2)
        label = (tokens != target).astype(np.int64)
        label[target == IGNORE] = IGNORE
        labels.append(label)
    return labels


def detector_inputs(
    predictions: Predictions, items: list[int], size: int, rngs: list[np.random.Generator] | None
) -> tuple[list[slice], tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Windows and padded (tokens, confidence, log_probs, pad) tensors for `items`."""
    windows = [
        time_window(len(predictions.tokens[i]), size, rngs[k] if rngs else None)
        for k, i in enumerate(items)
    ]
    tokens, pad = pad_sequences(
        [predictions.tokens[i][w] for i, w in zip(items, windows, strict=True)], 0
    )
    conf, _ = pad_sequences(
        [predictions.confidence[i][w] for i, w in zip(items, windows, strict=True)], 0.5
    )
    lp, _ = pad_sequences(
        [
            predictions.log_probs[i][w].astype(np.float32)
            for i, w in zip(items, windows, strict=True)
        ],
        0.0,
    )
    return windows, (tokens, conf, lp, pad)


def detector_stage(
    config: DetectorConfig,
    train: TrainConfig,
    predictions: Predictions,
    units: list[np.ndarray],
    valid_predictions: Predictions,
    valid_units: list[np.ndarray],
    threshold: float,
    meta: dict,
) -> Stage:
    """The detector as a `Stage`, trained on out-of-fold predictions."""
    torch.manual_seed(train.seed)
    model = ErrorDetector(config)
    labels = wrong_labels(predictions, units)
    criterion = nn.BCEWithLogitsLoss(reduction="none")
    size = 2 * train.max_frames

    def loss_fn(
        trained: nn.Module, items: list[int], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(trained.parameters()).device
        rngs = [item_rng(train.seed, step, i) for i in items]
        windows, tensors = detector_inputs(predictions, items, size, rngs)
        tokens, conf, lp, pad = (t.to(device) for t in tensors)
        y, _ = pad_sequences([labels[i][w] for i, w in zip(items, windows, strict=True)], IGNORE)
        y = y.to(device)
        keep = (y != IGNORE) & ~pad
        logits = trained(tokens, conf, lp, pad)  # (B, T)
        loss = criterion(logits, y.clamp(min=0).float())
        return (loss * keep).sum(), keep.sum()

    def evaluate(model: nn.Module) -> dict[str, float]:
        assert isinstance(model, ErrorDetector)
        scores = detector_metrics(model, valid_predictions, valid_units, threshold)
        return {f"valid_{k}": v for k, v in scores.items()}

    n = len(predictions.tokens)
    return Stage("detector", DETECTOR_KIND, model, config, train, n, loss_fn, evaluate, meta)


@torch.no_grad()
def detect(model: ErrorDetector, predictions: Predictions) -> list[np.ndarray]:
    """(T,) probability that each token is wrong, per clip."""
    return [
        model.predict(t, c, lp)
        for t, c, lp in zip(
            predictions.tokens, predictions.confidence, predictions.log_probs, strict=True
        )
    ]


def detector_metrics(
    model: ErrorDetector, predictions: Predictions, units: list[np.ndarray], threshold: float
) -> dict[str, float]:
    """Precision / recall at `threshold` and AUC of the detector's flags on these clips."""
    if not predictions.tokens:
        return {}
    return flag_scores(detect(model, predictions), predictions, units, threshold)


def flag_scores(
    probs: list[np.ndarray], predictions: Predictions, units: list[np.ndarray], threshold: float
) -> dict[str, float]:
    """`detector_metrics` from already computed per-clip wrong-token probabilities."""
    labels = wrong_labels(predictions, units)
    p = np.concatenate([pr[lab != IGNORE] for pr, lab in zip(probs, labels, strict=True)])
    y = np.concatenate([lab[lab != IGNORE] for lab in labels])
    return detector_scores(p, y, threshold)
