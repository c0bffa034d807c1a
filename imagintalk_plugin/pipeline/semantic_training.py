"""`imagintalk train units|aligner|detector|refiner|evaluate`: the semantic branch, stage by stage.

All stages of one model live in one run folder (`--out RUN`), each in its own subfolder, and a
stage finds what it builds on there:

    RUN/units/      k-means codebook                 (train units)
    RUN/aligner/    lip aligner                      (train aligner: needs units)
    RUN/detector/   error detector, fold aligners in folds/, their predictions in oof.*
                                                     (train detector: needs units, aligner)
    RUN/refiner_lm/ BERT pretrained on units alone   (train refiner: needs units, detector)
    RUN/refiner/    BERT fine-tuned with lip posteriors
    RUN/metrics.json  held-out-speaker scores of all stages (train evaluate, and after refiner)

Each stage writes `metrics.json` beside its model: the validation history and the scores on
the test split (speakers never seen in training).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.core.errors import OutputExistsError, UsageError
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.nn.presets import SemanticPreset, semantic_preset
from imagintalk_plugin.nn.training.corpus import SemanticCorpus
from imagintalk_plugin.nn.training.distributed import DistributedContext, barrier
from imagintalk_plugin.pipeline.semantic_models import SemanticModels, load_models
from imagintalk_plugin.pipeline.training_data import load_semantic_corpus

STAGES = ("units", "aligner", "detector", "refiner", "evaluate")


@dataclass(frozen=True)
class TrainRequest:
    """One `imagintalk train` invocation."""

    stage: str
    preset: str
    data: Path
    out: Path
    resume: bool = False
    force: bool = False
    jobs: int = 0
    limit: int | None = None
    hubert: Path | None = None  # a local HuBERT checkpoint folder: units from its layer 6


def run_training(request: TrainRequest, ctx: DistributedContext) -> Job[dict[str, Any]]:
    """Job: train (or evaluate) one stage; returns the metrics it saved."""
    if request.stage not in STAGES:
        raise UsageError(f"unknown stage '{request.stage}' (choose from {', '.join(STAGES)})")
    preset = semantic_preset(request.preset)
    if not ctx.is_main:
        barrier(ctx)  # rank 0 runs the front-end into the cache first
    load = yield from load_semantic_corpus(request.data, jobs=request.jobs, limit=request.limit)
    if ctx.is_main:
        barrier(ctx)
    corpus = load.corpus
    if not corpus.split("train"):
        raise UsageError(f"{request.data} has no usable training utterances")
    request.out.mkdir(parents=True, exist_ok=True)
    from imagintalk_plugin.pipeline import semantic_stages as stages

    runners = {
        "units": stages.train_units,
        "aligner": stages.train_aligner,
        "detector": stages.train_detector,
        "refiner": stages.train_refiner,
    }
    metrics: dict[str, Any] = {"skipped_clips": load.skipped}
    if request.stage in runners:
        metrics.update((yield from runners[request.stage](request, preset, corpus, ctx)))
    if request.stage in ("refiner", "evaluate") and ctx.is_main:
        yield Progress("evaluating", 0, 1, unit="set")
        summary = evaluate_run(request.out, preset, corpus)
        write_metrics(request.out / "metrics.json", {**summary, "preset": preset.name})
        metrics["summary"] = summary
    return metrics


def evaluate_run(out: Path, preset: SemanticPreset, corpus: SemanticCorpus) -> dict[str, Any]:
    """Scores of every stage on the valid and test splits, with baselines.

    The refiner's detector threshold and fusion weight are chosen on the validation split
    (saved as RUN/refiner/calibration.json) and then applied unchanged to the test speakers.
    """
    models = load_models(out, device=None)
    calibration = calibration_for(out, models, preset, corpus)
    return {
        split: models_scores(models, preset, corpus, split, calibration)
        for split in ("valid", "test")
    }


def calibration_for(
    out: Path, models: SemanticModels, preset: SemanticPreset, corpus: SemanticCorpus
) -> dict[str, float]:
    """RUN/refiner/calibration.json, computed on the validation split when missing."""
    from imagintalk_plugin.nn.training.aligner_training import predict_clips
    from imagintalk_plugin.nn.training.detector_training import detect
    from imagintalk_plugin.nn.training.refiner_training import calibrate

    path = out / "refiner" / "calibration.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    valid = corpus.split("valid")
    if not valid:
        return {"threshold": preset.threshold, "lm_weight": None}
    predictions = predict_clips(models.aligner, [u.crops for u in valid])
    units = [models.units.unit_ids(u.audio) for u in valid]
    probs = detect(models.detector, predictions)
    calibration = calibrate(models.refiner, predictions, probs, units, preset.passes)
    write_metrics(path, calibration)
    return calibration


def models_scores(
    models: SemanticModels,
    preset: SemanticPreset,
    corpus: SemanticCorpus,
    split: str,
    calibration: dict[str, float],
) -> dict[str, float]:
    """Aligner, detector and refiner scores on one split."""
    from imagintalk_plugin.nn.training.aligner_training import aligner_metrics, predict_clips
    from imagintalk_plugin.nn.training.detector_training import detect, detector_metrics
    from imagintalk_plugin.nn.training.refiner_training import refinement_scores

    utts = corpus.split(split)
    if not utts:
        return {}
    train_units = [models.units.unit_ids(u.audio) for u in corpus.split("train")]
    units = [models.units.unit_ids(u.audio) for u in utts]
    clips = [u.crops for u in utts]
    scores = aligner_metrics(models.aligner, clips, units, train_units, prefix="aligner_")
    predictions = predict_clips(models.aligner, clips)
    probs = detect(models.detector, predictions)
    detector = detector_metrics(models.detector, predictions, units, preset.threshold)
    scores.update({f"detector_{k}": v for k, v in detector.items()})
    plain = refinement_scores(
        models.refiner, predictions, [p >= preset.threshold for p in probs], units, preset.passes
    )
    scores.update({f"refiner_alone_{k}": v for k, v in plain.items()})
    threshold, weight = calibration["threshold"], calibration["lm_weight"]
    fused = refinement_scores(
        models.refiner, predictions, [p >= threshold for p in probs], units, preset.passes, weight
    )
    scores.update({f"refiner_{k}": v for k, v in fused.items()})
    scores.update(refiner_threshold=threshold, refiner_lm_weight=weight)
    scores["clips"] = len(utts)
    scores["speakers"] = len({u.speaker for u in utts})
    return scores


def write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    """Write a metrics JSON file (NaN as null)."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not np.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    with atomic_path(path) as tmp:
        tmp.write_text(
            json.dumps(clean(metrics), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )


def check_fresh(folder: Path, request: TrainRequest) -> None:
    """Refuse to overwrite a trained stage unless --force (or --resume continues it)."""
    if (folder / "config.json").exists() and not (request.force or request.resume):
        raise OutputExistsError(folder)
