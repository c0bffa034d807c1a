"""The four training stages of the semantic branch, each a job over a loaded corpus."""

from __future__ import annotations

import shutil
from dataclasses import replace
from typing import Any

import numpy as np

from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.nn.checkpoint import config_to_dict
from imagintalk_plugin.nn.lip_aligner import LipAligner
from imagintalk_plugin.nn.unit_fitting import (
    fit_phonetic_units,
    fit_unit_extractor,
    phone_accuracy,
)
from imagintalk_plugin.nn.units import UnitExtractor
from imagintalk_plugin.pipeline.semantic_models import (
    load_aligner,
    load_detector,
    load_refiner,
    load_units,
)
from imagintalk_plugin.training.loops.corpus import SemanticCorpus, Utterance
from imagintalk_plugin.training.loops.distributed import DistributedContext, barrier
from imagintalk_plugin.training.loops.loop import run_stage, train_or_load
from imagintalk_plugin.training.phone_labels import word_phone_spans
from imagintalk_plugin.training.presets import SemanticPreset
from imagintalk_plugin.training.request import TrainRequest, check_fresh, write_metrics


def _meta(request: TrainRequest, preset: SemanticPreset, units: UnitExtractor | None) -> dict:
    meta: dict[str, Any] = {"preset": preset.name, "data": request.data_label}
    if units is not None:
        meta.update(codebook_id=units.codebook_id, codebook_version=units.codebook_version)
    return meta


def _unit_ids(units: UnitExtractor, corpus: SemanticCorpus, split: str) -> list[np.ndarray]:
    return [units.unit_ids(u.audio) for u in corpus.split(split)]


def fold_groups(train: list[Utterance]) -> list[str]:
    """What the detector's folds split by: the speaker, except in a corpus of one speaker
    (GRID s1), whose clips are spread over the folds one by one so that each fold aligner has
    seen that speaker, as the final aligner has."""
    speakers: dict[str, set[str]] = {}
    for u in train:
        speakers.setdefault(u.corpus, set()).add(u.speaker)
    return [
        u.speaker if len(speakers[u.corpus]) > 1 else f"{u.corpus}/{u.speaker}/{u.id}"
        for u in train
    ]


def _phone_spans(u: Utterance) -> tuple[tuple[str, float, float], ...]:
    """A clip's timed phonemes, or its words' phonemes spread over them (real clips)."""
    return u.phones or word_phone_spans(u.words, u.word_times)


def train_units(
    request: TrainRequest, preset: SemanticPreset, corpus: SemanticCorpus, ctx: DistributedContext
) -> Job[dict[str, Any]]:
    """Fit the k-means codebook on the training audio."""
    folder = request.out / "units"
    check_fresh(folder, request)
    metrics: dict[str, Any] = {}
    if ctx.is_main:
        train = corpus.split("train")
        fitted: dict[str, float] = {}
        if request.phonetic:
            extractor, fitted = yield from fit_phonetic_units(
                ((u.audio, _phone_spans(u)) for u in train),
                replace(preset.units, kind="phonetic"),
                total=len(train),
            )
            valid = ((u.audio, u.phones) for u in corpus.split("valid") if u.phones)
            fitted["phone_accuracy_valid"] = phone_accuracy(extractor, valid)
        else:
            config = preset.units
            if request.hubert is not None:
                config = replace(config, kind="hubert")
            extractor = yield from fit_unit_extractor(
                (u.audio for u in train), config, total=len(train), hubert_dir=request.hubert
            )
        ids = np.concatenate([extractor.unit_ids(u.audio) for u in train])
        counts = np.bincount(ids, minlength=preset.units.num_units) / len(ids)
        used = counts[counts > 0]
        metrics = {
            **fitted,
            "units_used": int((counts > 0).sum()),
            "unit_perplexity": float(np.exp(-(used * np.log(used)).sum())),
            "train_steps": len(ids),
        }
        extractor.save(folder, meta={**_meta(request, preset, None), "metrics": metrics})
        write_metrics(folder / "metrics.json", metrics)
    barrier(ctx)
    return metrics


def train_aligner(
    request: TrainRequest, preset: SemanticPreset, corpus: SemanticCorpus, ctx: DistributedContext
) -> Job[dict[str, Any]]:
    """Train the lip aligner on the units of the true audio."""
    from imagintalk_plugin.training.loops.aligner_training import (
        aligner_stage,
        predict_clips,
        prediction_scores,
    )

    units = load_units(request.out)
    yield Progress("unit targets", 0, 1, unit="set")
    train_units_ = _unit_ids(units, corpus, "train")
    config = preset.aligner
    if request.lip_input is not None:  # train aligner --lip-input: what the aligner reads
        encoder = replace(config.encoder, inputs=request.lip_input)
        config = replace(config, encoder=encoder)
    stage = aligner_stage(
        config,
        preset.aligner_train,
        [u.lip for u in corpus.split("train")],
        train_units_,
        [u.lip for u in corpus.split("valid")],
        _unit_ids(units, corpus, "valid"),
        _meta(request, preset, units),
    )
    folder = request.out / "aligner"
    result = yield from run_stage(stage, folder, ctx, resume=request.resume, force=request.force)
    test = {}
    if ctx.is_main:
        yield Progress("aligner: test speakers", 0, 1, unit="set")
        test_utts = corpus.split("test")
        trained = stage.model
        assert isinstance(trained, LipAligner)  # the model run_stage trained in place
        test_units = _unit_ids(units, corpus, "test")
        if test_utts:  # predicted once, scored as a whole and per corpus
            predicted = predict_clips(trained, [u.lip for u in test_utts])
            k = trained.config.num_units
            test = prediction_scores(predicted, test_units, train_units_, k, "test_")
            names = corpus.corpora()
            for name in names if len(names) > 1 else []:  # several corpora: each one's too
                pick = [i for i, u in enumerate(test_utts) if u.corpus == name]
                if pick:
                    part, refs = predicted.select(pick), [test_units[i] for i in pick]
                    test.update(prediction_scores(part, refs, train_units_, k, f"test@{name}_"))
        write_metrics(folder / "metrics.json", {"history": result["history"], "test": test})
    return {"history": result["history"], "test": test}


def train_detector(
    request: TrainRequest, preset: SemanticPreset, corpus: SemanticCorpus, ctx: DistributedContext
) -> Job[dict[str, Any]]:
    """Fold aligners -> honest predictions -> the error detector."""
    from imagintalk_plugin.training.loops.aligner_training import predict_clips
    from imagintalk_plugin.training.loops.detector_training import (
        detector_metrics,
        detector_stage,
        out_of_fold_predictions,
    )
    from imagintalk_plugin.training.loops.predictions_io import save_predictions

    units = load_units(request.out)
    folder = request.out / "detector"
    check_fresh(folder, request)
    if request.force and not request.resume and folder.exists():
        shutil.rmtree(folder)
    aligner = load_aligner(request.out, units, str(ctx.device))
    train = corpus.split("train")
    train_units_ = _unit_ids(units, corpus, "train")
    oof = yield from out_of_fold_predictions(
        aligner.config,  # the fold aligners read what the final aligner reads
        preset.fold_train,
        [u.lip for u in train],
        train_units_,
        fold_groups(train),
        preset.folds,
        folder / "folds",
        ctx,
        resume=True,
    )
    if ctx.is_main:
        save_predictions(folder / "oof.safetensors", [u.id for u in train], oof)
    valid = corpus.split("valid")
    valid_predictions = predict_clips(aligner, [u.lip for u in valid])
    meta = {
        **_meta(request, preset, units),
        "folds": preset.folds,
        "fold_train": config_to_dict(preset.fold_train),
    }
    stage = detector_stage(
        preset.detector,
        preset.detector_train,
        oof,
        train_units_,
        valid_predictions,
        _unit_ids(units, corpus, "valid"),
        preset.threshold,
        meta,
    )
    resume = request.resume and (folder / "trainer_state.json").exists()
    result = yield from run_stage(stage, folder, ctx, resume=resume, force=True)
    test = {}
    if ctx.is_main:
        test_utts = corpus.split("test")
        test_predictions = predict_clips(aligner, [u.lip for u in test_utts])
        test = {
            f"test_{k}": v
            for k, v in detector_metrics(
                stage.model,  # type: ignore[arg-type]  # the ErrorDetector just trained
                test_predictions,
                _unit_ids(units, corpus, "test"),
                preset.threshold,
            ).items()
        }
        write_metrics(folder / "metrics.json", {"history": result["history"], "test": test})
    return {"history": result["history"], "test": test}


def train_refiner(
    request: TrainRequest, preset: SemanticPreset, corpus: SemanticCorpus, ctx: DistributedContext
) -> Job[dict[str, Any]]:
    """Pretrain the BERT unit LM on audio units, then fine-tune it with lip posteriors."""
    from imagintalk_plugin.training.loops.aligner_training import predict_clips
    from imagintalk_plugin.training.loops.detector_training import detect
    from imagintalk_plugin.training.loops.predictions_io import load_predictions
    from imagintalk_plugin.training.loops.refiner_training import finetune_stage, pretrain_stage
    from imagintalk_plugin.training.loops.unit_noise import error_confusion

    units = load_units(request.out)
    folder = request.out / "refiner"
    check_fresh(folder, request)
    train = corpus.split("train")
    train_units_ = _unit_ids(units, corpus, "train")
    valid_units = _unit_ids(units, corpus, "valid")
    meta = _meta(request, preset, units)
    oof = load_predictions(request.out / "detector" / "oof.safetensors", [u.id for u in train])
    confusion = error_confusion(oof.tokens, train_units_, preset.refiner.num_units)
    lm = pretrain_stage(
        preset.refiner, preset.refiner_pretrain, train_units_, valid_units, meta, confusion
    )
    lm_folder = request.out / "refiner_lm"
    if request.force and not request.resume and lm_folder.exists():
        shutil.rmtree(lm_folder)
    yield from train_or_load(lm, lm_folder, ctx, resume=True)
    # reloaded, not reused: an LM finished by an earlier run must share today's codebook
    model = load_refiner(request.out, units, str(ctx.device), folder="refiner_lm")
    aligner = load_aligner(request.out, units, str(ctx.device))
    detector = load_detector(request.out, units, str(ctx.device))
    valid_predictions = predict_clips(aligner, [u.lip for u in corpus.split("valid")])
    valid_flags = [p >= preset.threshold for p in detect(detector, valid_predictions)]
    stage = finetune_stage(
        model,
        preset.refiner_finetune,
        oof,
        train_units_,
        valid_predictions,
        valid_flags,
        valid_units,
        preset.passes,
        {**meta, "pretrained": str(lm_folder.name)},
    )
    resume = request.resume and (folder / "trainer_state.json").exists()
    result = yield from run_stage(stage, folder, ctx, resume=resume, force=True)
    if ctx.is_main:
        (folder / "calibration.json").unlink(missing_ok=True)  # belonged to the old refiner
        write_metrics(folder / "metrics.json", {"history": result["history"]})
    return {"history": result["history"]}
