"""Why the refiner does not raise unit accuracy on held-out speakers: figures that tell apart a
weak language model, a noisy context and a refiner that learned its training utterances.

Measures, for the training speakers' out-of-fold predictions (every 9th training clip: the
fold aligners never saw those speakers, the refiner was fine-tuned on exactly these clips),
the validation clips (training speakers, unseen utterances) and the test clips (unseen
speakers):
- top1 / top5 / top20: the aligner's top-k coverage of the true unit;
- lm_clean_acc: the masked-span accuracy of the pretrained unit LM (RUN/refiner_lm) on the
  TRUE units, so a clean context (does the LM itself generalise to new voices?);
- before, and *_after: unit accuracy before and after refinement, for the shipped refiner at
  its calibrated setting (refiner/calibration.json) and at the preset's threshold with weight
  1, and for the pretrained LM alone fused with the lips (threshold 0.5, weight 0.25: its best
  validation setting among thresholds 0.5/0.7/0.9 and weights 0.1/0.25/0.5/1, measured
  2026-11-21).

Inputs: RUN, a run folder from `imagintalk train` through the refiner stage (units, aligner,
detector with detector/oof.safetensors, refiner with calibration.json, refiner_lm; a shipped
model folder lacks the fold predictions); --data, the manifest it was trained on.
Output: a table on stdout, one row per split (a split without clips is left out), figures as
fractions; with --json OUT the same figures as {split: {figure: value}}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.nn.refiner import UnitRefiner
from imagintalk_plugin.pipeline.semantic_models import load_models, load_refiner
from imagintalk_plugin.training.loops.aligner_training import Predictions
from imagintalk_plugin.training.loops.detector_training import detect
from imagintalk_plugin.training.loops.predictions_io import load_predictions
from imagintalk_plugin.training.loops.refiner_training import refinement_scores, span_mask
from imagintalk_plugin.training.presets import semantic_preset
from imagintalk_plugin.training.semantic_training import SplitOutputs, split_outputs
from imagintalk_plugin.training.training_data import load_semantic_corpus


def top_k_coverage(predictions: Predictions, units: list[np.ndarray]) -> dict[str, float]:
    """Share of steps whose true unit is among the aligner's k likeliest, k = 1, 5, 20."""
    hits, total = dict.fromkeys((1, 5, 20), 0), 0
    for log_probs, truth in zip(predictions.log_probs, units, strict=True):
        n = min(len(log_probs), len(truth))
        order = np.argsort(-log_probs[:n].astype(np.float32), axis=1)
        for k in hits:
            hits[k] += int((order[:, :k] == truth[:n, None]).any(axis=1).sum())
        total += n
    return {f"top{k}": v / max(1, total) for k, v in hits.items()}


@torch.no_grad()
def lm_clean_accuracy(lm: UnitRefiner, units: list[np.ndarray], seed: int = 0) -> float:
    """Masked-span accuracy of the unit LM on true unit sequences (the pretraining task)."""
    rng = np.random.default_rng(seed)
    correct = total = 0
    for truth in units:
        mask = span_mask(len(truth), rng)
        ids = torch.from_numpy(np.where(mask, lm.mask_id, truth))[None]
        pred = lm(ids, None)[0].argmax(-1).numpy()
        correct += int((pred[mask] == truth[mask]).sum())
        total += int(mask.sum())
    return correct / max(1, total)


def diagnose(run: Path, manifest: Path) -> dict[str, dict[str, float]]:
    """The figures above, per split."""
    corpus = drive(load_semantic_corpus(manifest)).corpus
    models = load_models(run, device="cpu")
    lm = load_refiner(run, models.units, "cpu", folder="refiner_lm").eval()
    calibration = json.loads((run / "refiner" / "calibration.json").read_text())
    meta = json.loads((run / "aligner" / "config.json").read_text())["meta"]
    preset = semantic_preset(meta["preset"])
    train = corpus.split("train")[::9]
    oof = load_predictions(run / "detector" / "oof.safetensors", [u.id for u in train])
    splits = {
        "train_oof": SplitOutputs(
            speakers=len({u.speaker for u in train}),
            units=[models.units.unit_ids(u.audio) for u in train],
            predictions=oof,
            wrong_probs=detect(models.detector, oof),
        ),
        "valid": split_outputs(models, corpus, "valid"),
        "test": split_outputs(models, corpus, "test"),
    }
    settings = {
        "refiner_calibrated": (
            models.refiner,
            calibration["threshold"],
            calibration["lm_weight"],
            calibration.get("masking", "all"),
        ),
        "refiner_preset": (models.refiner, preset.threshold, 1.0, "all"),
        "lm_fused": (lm, 0.5, 0.25, "all"),  # the LM's best on validation over a small grid
    }
    report: dict[str, dict[str, float]] = {}
    for name, out in splits.items():
        if out is None:
            continue
        row = {**top_k_coverage(out.predictions, out.units)}
        row["lm_clean_acc"] = lm_clean_accuracy(lm, out.units)
        for label, (model, threshold, weight, masking) in settings.items():
            flags = [p >= threshold for p in out.wrong_probs]
            scores = refinement_scores(
                model, out.predictions, flags, out.units, preset.passes, weight, masking
            )
            row["before"] = scores["unit_acc_before"]
            row[f"{label}_after"] = scores["unit_acc_after"]
        report[name] = row
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="a run folder (not a shipped model)")
    parser.add_argument("--data", type=Path, required=True, help="the run's manifest.jsonl")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    report = diagnose(args.run, args.data)
    columns = list(next(iter(report.values())))
    print("split      " + " ".join(f"{c:>22}" for c in columns))
    for split, row in report.items():
        print(f"{split:<10} " + " ".join(f"{row[c]:>22.4f}" for c in columns))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
