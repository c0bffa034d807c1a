"""`imagintalk train units|line|aligner|detector|refiner|evaluate`: the semantic branch, by stage.

All stages of one model live in one run folder (`--out RUN`), each in its own subfolder, and a
stage finds what it builds on there:

    RUN/units/      k-means codebook                 (train units)
    RUN/line/       reference-voice -> corpus unit table, for known lines (train line: units)
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.pipeline.semantic_models import (
    REFINER_FOLDERS,
    SemanticModels,
    chosen_refiner,
    load_models,
    load_refiner,
)
from imagintalk_plugin.training import semantic_stages as stages
from imagintalk_plugin.training.line_stage import train_line
from imagintalk_plugin.training.loops.aligner_training import Predictions
from imagintalk_plugin.training.loops.corpus import SemanticCorpus, Utterance
from imagintalk_plugin.training.loops.distributed import DistributedContext, barrier
from imagintalk_plugin.training.presets import SemanticPreset, semantic_preset
from imagintalk_plugin.training.request import (
    ACOUSTIC_STAGES,
    DIT_STAGES,
    SEMANTIC_STAGES,
    STAGES,
    TrainRequest,
    with_steps,
    write_metrics,
)
from imagintalk_plugin.training.training_data import load_semantic_corpus


def run_training(request: TrainRequest, ctx: DistributedContext) -> Job[dict[str, Any]]:
    """Job: train (or evaluate) one stage; returns the metrics it saved."""
    if request.stage not in STAGES:
        raise UsageError(f"unknown stage '{request.stage}' (choose from {', '.join(STAGES)})")
    preset = semantic_preset(request.preset)
    if request.stage in SEMANTIC_STAGES:  # fails before the corpus loads, like a bad preset
        preset = with_steps(preset, request.stage, request.steps)
    if request.lip_input is not None and request.stage != "aligner":
        raise UsageError(f"--lip-input applies to the aligner, not to '{request.stage}'")
    if request.phonetic and request.stage != "units":
        raise UsageError(f"--phonetic applies to units, not to '{request.stage}'")
    if request.phonetic and request.hubert is not None:
        raise UsageError("units: give --phonetic or --hubert, not both")
    if request.init is not None and request.stage not in ("codec", "vocoder"):
        raise UsageError(f"--init applies to codec and vocoder, not to '{request.stage}'")
    for option, value in (("--voice-bank", request.voice_bank), ("--lip-drop", request.lip_drop)):
        if value is not None and request.stage not in DIT_STAGES:
            raise UsageError(f"{option} applies to dit and dit-voice, not to '{request.stage}'")
    if request.stage in ACOUSTIC_STAGES:
        from imagintalk_plugin.training.acoustic_presets import acoustic_preset
        from imagintalk_plugin.training.acoustic_stages import with_dit_options

        # an unknown preset, a stage without a schedule or a bad bank fail before the corpus loads
        checked = with_steps(acoustic_preset(request.preset), request.stage, request.steps)
        with_dit_options(checked, request)
    if not ctx.is_main:
        barrier(ctx)  # rank 0 runs the front-end into the cache first
    load = yield from load_semantic_corpus(request.sources, jobs=request.jobs, limit=request.limit)
    if ctx.is_main:
        barrier(ctx)
    corpus = load.corpus
    if not corpus.split("train"):
        raise UsageError(f"{request.data_label} has no usable training utterances")
    request.out.mkdir(parents=True, exist_ok=True)
    runners = {
        "units": stages.train_units,
        "line": train_line,
        "aligner": stages.train_aligner,
        "detector": stages.train_detector,
        "refiner": stages.train_refiner,
    }
    metrics: dict[str, Any] = {"skipped_clips": load.skipped}
    if request.stage in ACOUSTIC_STAGES:
        from imagintalk_plugin.training.acoustic_stages import run_acoustic_stage

        metrics.update((yield from run_acoustic_stage(request, corpus, ctx)))
        return metrics
    if request.stage in runners:
        metrics.update((yield from runners[request.stage](request, preset, corpus, ctx)))
    if request.stage in ("refiner", "evaluate") and ctx.is_main:
        yield Progress("evaluating", 0, 1, unit="set")
        summary = evaluate_run(request.out, preset, corpus)
        write_metrics(request.out / "metrics.json", {**summary, "preset": preset.name})
        metrics["summary"] = summary
    return metrics


@dataclass(frozen=True, eq=False)
class SplitOutputs:
    """What the trained models say about one split, computed once and scored several ways."""

    speakers: int
    units: list[np.ndarray]  # the true audio's units, per clip
    predictions: Predictions  # the aligner's, per clip
    wrong_probs: list[np.ndarray]  # the detector's, per clip


def evaluate_run(out: Path, preset: SemanticPreset, corpus: SemanticCorpus) -> dict[str, Any]:
    """Scores of every stage on the valid and test splits, with baselines.

    The refiner (fine-tuned, or the LM it started from), its masking, detector threshold and
    fusion weight are chosen on the validation split (saved as RUN/refiner/calibration.json)
    and then applied unchanged to the test speakers.
    """
    loaded = chosen_refiner(out)
    models = load_models(out, device=None)
    outputs = {split: split_outputs(models, corpus, split) for split in ("valid", "test")}
    calibration = calibration_for(out, models, preset, outputs["valid"])
    chosen = calibration.get("model", "refiner")
    if chosen != loaded:  # a calibration made just now may choose the other refiner
        models = replace(models, refiner=load_refiner(out, models.units, None, chosen))
    train_units = [models.units.unit_ids(u.audio) for u in corpus.split("train")]
    scores: dict[str, Any] = {
        split: models_scores(models, preset, split_output, train_units, calibration)
        for split, split_output in outputs.items()
    }
    names = corpus.corpora()
    for split, split_output in outputs.items():  # several corpora: each one's scores too
        if split_output is None or len(names) < 2:
            continue
        utts = corpus.split(split)
        for name in names:
            part = subset(split_output, [i for i, u in enumerate(utts) if u.corpus == name], utts)
            if part is not None:
                scores[f"{split}@{name}"] = models_scores(
                    models, preset, part, train_units, calibration
                )
    scores["refiner_model"] = calibration.get("model", "refiner")
    scores["refiner_masking"] = calibration.get("masking", "all")
    return scores


def split_outputs(
    models: SemanticModels, corpus: SemanticCorpus, split: str
) -> SplitOutputs | None:
    """Units, aligner predictions and detector probabilities of one split (None when empty)."""
    from imagintalk_plugin.training.loops.aligner_training import predict_clips
    from imagintalk_plugin.training.loops.detector_training import detect

    utts = corpus.split(split)
    if not utts:
        return None
    predictions = predict_clips(models.aligner, [u.lip for u in utts])
    return SplitOutputs(
        speakers=len({u.speaker for u in utts}),
        units=[models.units.unit_ids(u.audio) for u in utts],
        predictions=predictions,
        wrong_probs=detect(models.detector, predictions),
    )


def subset(outputs: SplitOutputs, indices: list[int], utts: list[Utterance]) -> SplitOutputs | None:
    """The outputs of the clips at `indices` (None when there are none)."""
    if not indices:
        return None
    return SplitOutputs(
        speakers=len({utts[i].speaker for i in indices}),
        units=[outputs.units[i] for i in indices],
        predictions=outputs.predictions.select(indices),
        wrong_probs=[outputs.wrong_probs[i] for i in indices],
    )


def calibration_for(
    out: Path, models: SemanticModels, preset: SemanticPreset, valid: SplitOutputs | None
) -> dict[str, Any]:
    """RUN/refiner/calibration.json, computed on the validation split when missing.

    Both the fine-tuned refiner and its pretrained LM (RUN/refiner_lm) are calibrated; the one
    with the better validation accuracy after refinement is the refiner ("model"), so a
    fine-tuning that does not help on validation is not used.
    """
    from imagintalk_plugin.training.loops.refiner_training import calibrate

    path = out / "refiner" / "calibration.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    if valid is None:
        return {"threshold": preset.threshold, "lm_weight": None}
    best: dict[str, Any] = {}
    for folder in REFINER_FOLDERS:
        if folder != "refiner" and not (out / folder / "config.json").is_file():
            continue
        # with no calibration yet, `models` holds RUN/refiner: no need to load it again
        refiner = (
            models.refiner
            if folder == "refiner"
            else load_refiner(out, models.units, device=None, folder=folder)
        )
        scores = calibrate(
            refiner, valid.predictions, valid.wrong_probs, valid.units, preset.passes
        )
        if not best or scores["unit_acc_after"] > best["unit_acc_after"]:
            best = {"model": folder, **scores}
    write_metrics(path, best)
    return best


def models_scores(
    models: SemanticModels,
    preset: SemanticPreset,
    outputs: SplitOutputs | None,
    train_units: list[np.ndarray],
    calibration: dict[str, Any],
) -> dict[str, float]:
    """Aligner, detector and refiner scores on one split (the chosen refiner at the preset's
    settings, then at the calibrated ones)."""
    from imagintalk_plugin.training.loops.aligner_training import prediction_scores
    from imagintalk_plugin.training.loops.detector_training import flag_scores
    from imagintalk_plugin.training.loops.refiner_training import refinement_scores

    if outputs is None:
        return {}
    units, predictions, probs = outputs.units, outputs.predictions, outputs.wrong_probs
    num_units = models.aligner.config.num_units
    scores = prediction_scores(predictions, units, train_units, num_units, prefix="aligner_")
    detector = flag_scores(probs, predictions, units, preset.threshold)
    scores.update({f"detector_{k}": v for k, v in detector.items()})
    plain = refinement_scores(
        models.refiner, predictions, [p >= preset.threshold for p in probs], units, preset.passes
    )
    scores.update({f"refiner_preset_{k}": v for k, v in plain.items()})
    threshold, weight = calibration["threshold"], calibration["lm_weight"]
    flags = [p >= threshold for p in probs]
    masking = calibration.get("masking", "all")  # calibrations before "runs" masked all
    fused = refinement_scores(
        models.refiner, predictions, flags, units, preset.passes, weight, masking
    )
    scores.update({f"refiner_{k}": v for k, v in fused.items()})
    scores.update(refiner_threshold=threshold, refiner_lm_weight=weight)
    scores["clips"] = len(units)
    scores["speakers"] = outputs.speakers
    return scores
