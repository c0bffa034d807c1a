"""Could early stopping on held-out speakers make refinement help new voices? Fine-tunes the
pretrained unit LM of a run (RUN/refiner_lm) as `imagintalk train refiner` does, but on the
out-of-fold predictions of all training speakers except every 5th, and every `--every` steps
prints how refinement changes unit accuracy on those held-out "dev" speakers (out-of-fold
predictions, the only honest choice of a step) and on the test speakers (full aligner).

Usage: .venv/bin/python scripts/refiner_dev_speakers.py RUN --data MANIFEST
       [--steps 300] [--every 100] [--lr 2e-4]
Nothing in RUN is written; the fine-tuned refiner is thrown away.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.pipeline.semantic_models import load_models, load_refiner
from imagintalk_plugin.training.loops.aligner_training import Predictions
from imagintalk_plugin.training.loops.detector_training import detect
from imagintalk_plugin.training.loops.predictions_io import load_predictions
from imagintalk_plugin.training.loops.refiner_training import finetune_stage, refinement_scores
from imagintalk_plugin.training.loops.settings import TrainConfig
from imagintalk_plugin.training.presets import semantic_preset
from imagintalk_plugin.training.semantic_training import split_outputs
from imagintalk_plugin.training.training_data import load_semantic_corpus

SETTINGS = ((0.5, 1.0), (0.9, 0.5))  # (detector threshold, fusion weight): preset, calibrated
BATCH = 32
WARMUP = 40


def subset(predictions: Predictions, items: list[int]) -> Predictions:
    """The predictions of `items` only."""
    return Predictions(
        [predictions.tokens[i] for i in items],
        [predictions.confidence[i] for i in items],
        [predictions.log_probs[i] for i in items],
    )


def gains(model: torch.nn.Module, splits: dict, passes: int) -> dict[str, float]:
    """Accuracy after minus before refinement, per split and setting (and each 'before')."""
    row: dict[str, float] = {}
    for name, (predictions, wrong_probs, units) in splits.items():
        for threshold, weight in SETTINGS:
            flags = [p >= threshold for p in wrong_probs]
            s = refinement_scores(model, predictions, flags, units, passes, weight)
            row[f"{name}_{threshold}_{weight}"] = round(
                s["unit_acc_after"] - s["unit_acc_before"], 4
            )
            row[f"{name}_before"] = round(s["unit_acc_before"], 4)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="the run's manifest.jsonl")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--lr", type=float, default=2e-4)
    args = parser.parse_args()
    corpus = drive(load_semantic_corpus(args.data)).corpus
    models = load_models(args.run, device="cpu")
    meta = json.loads((args.run / "aligner" / "config.json").read_text())["meta"]
    passes = semantic_preset(meta["preset"]).passes
    train = corpus.split("train")
    oof = load_predictions(args.run / "detector" / "oof.safetensors", [u.id for u in train])
    units = [models.units.unit_ids(u.audio) for u in train]
    dev_speakers = set(sorted({u.speaker for u in train})[::5])
    fit = [i for i, u in enumerate(train) if u.speaker not in dev_speakers]
    dev = [i for i, u in enumerate(train) if u.speaker in dev_speakers]
    dev_predictions = subset(oof, dev)
    test = split_outputs(models, corpus, "test")
    splits = {
        "dev": (dev_predictions, detect(models.detector, dev_predictions), [units[i] for i in dev])
    }
    if test is not None:
        splits["test"] = (test.predictions, test.wrong_probs, test.units)
    print(f"fine-tune on {len(fit)} clips; dev speakers {sorted(dev_speakers)} ({len(dev)} clips)")

    model = load_refiner(args.run, models.units, "cpu", folder="refiner_lm")
    train_config = TrainConfig(steps=args.steps, batch_size=BATCH, lr=args.lr, warmup=WARMUP)
    stage = finetune_stage(
        model,
        train_config,
        subset(oof, fit),
        [units[i] for i in fit],
        subset(oof, []),
        [],
        [],
        passes,
        {},
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / WARMUP))
    rng = np.random.default_rng(train_config.seed)
    print(0, json.dumps(gains(model, splits, passes)), flush=True)
    for step in range(1, args.steps + 1):
        model.train()
        loss, count = stage.loss_fn(model, list(rng.choice(len(fit), BATCH, replace=False)), step)
        optimizer.zero_grad()
        (loss / count.clamp(min=1)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train_config.grad_clip)
        optimizer.step()
        warmup.step()
        if step % args.every == 0:
            print(step, json.dumps(gains(model, splits, passes)), flush=True)


if __name__ == "__main__":
    main()
