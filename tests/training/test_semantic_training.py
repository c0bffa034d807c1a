"""Training the tiny semantic presets: losses fall, checkpoints reload bit-exactly, resume
continues where it stopped, and a run with another config is refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from semantic_fixtures import toy_corpus

from imagintalk_plugin.core.errors import CancelledError, ModelLoadError, OutputExistsError
from imagintalk_plugin.core.progress import CancelToken, Progress, drive
from imagintalk_plugin.nn.checkpoint import load_module
from imagintalk_plugin.nn.lip_aligner import ALIGNER_KIND, AlignerConfig, LipAligner
from imagintalk_plugin.nn.unit_fitting import fit_unit_extractor
from imagintalk_plugin.nn.units import UnitExtractor
from imagintalk_plugin.training.loops.aligner_training import Predictions, aligner_stage
from imagintalk_plugin.training.loops.corpus import SemanticCorpus
from imagintalk_plugin.training.loops.detector_training import (
    detector_metrics,
    detector_stage,
    speaker_folds,
)
from imagintalk_plugin.training.loops.distributed import DistributedContext
from imagintalk_plugin.training.loops.loop import global_batch, learning_rate, run_stage
from imagintalk_plugin.training.loops.refiner_training import pretrain_stage, span_mask
from imagintalk_plugin.training.presets import semantic_preset

PRESET = semantic_preset("tiny")
CTX = DistributedContext()


@pytest.fixture(scope="module")
def corpus() -> SemanticCorpus:
    return toy_corpus()


@pytest.fixture(scope="module")
def units(corpus: SemanticCorpus) -> UnitExtractor:
    audio = [u.audio for u in corpus.split("train")]
    return drive(fit_unit_extractor(audio, replace(PRESET.units, num_units=8)))


def _aligner_stage(corpus: SemanticCorpus, units: UnitExtractor, **train: object):
    config = replace(PRESET.aligner, num_units=8)
    settings = replace(PRESET.aligner_train, **train)
    train_utts, valid = corpus.split("train"), corpus.split("valid")
    return aligner_stage(
        config,
        settings,
        [u.lip for u in train_utts],
        [units.unit_ids(u.audio) for u in train_utts],
        [u.lip for u in valid],
        [units.unit_ids(u.audio) for u in valid],
        meta={"codebook_id": units.codebook_id},
    )


def _losses(steps: list[Progress], stage: str) -> list[float]:
    return [float(s.message.split()[1]) for s in steps if s.stage == stage and s.message]


def test_aligner_loss_falls_and_learns_the_toy_task(corpus, units, tmp_path: Path) -> None:
    stage = _aligner_stage(corpus, units, steps=40, eval_every=40, save_every=40, warmup=4)
    seen: list[Progress] = []
    result = drive(run_stage(stage, tmp_path / "aligner", CTX), seen.append)
    losses = _losses(seen, "aligner")
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    final = result["history"][-1]
    assert final["valid_unit_acc"] > final["valid_majority_acc"]  # lips tell units apart


def test_checkpoint_reloads_bit_exactly(corpus, units, tmp_path: Path) -> None:
    stage = _aligner_stage(corpus, units, steps=3, eval_every=3, save_every=3)
    drive(run_stage(stage, tmp_path, CTX))
    loaded, meta = load_module(tmp_path, ALIGNER_KIND, AlignerConfig, LipAligner)
    for name, tensor in stage.model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    assert meta["step"] == 3
    assert meta["complete"]
    assert meta["codebook_id"] == units.codebook_id
    crops = corpus.split("test")[0].crops
    a, b = stage.model.predict(crops), loaded.predict(crops)
    assert np.array_equal(a.tokens, b.tokens)
    assert np.array_equal(a.log_probs, b.log_probs)


def test_resume_continues_where_it_stopped(corpus, units, tmp_path: Path) -> None:
    straight = _aligner_stage(corpus, units, steps=8, save_every=2)
    drive(run_stage(straight, tmp_path / "straight", CTX))

    interrupted = _aligner_stage(corpus, units, steps=8, save_every=100)
    cancel = CancelToken()

    def stop_after_five(step: Progress) -> None:
        if step.stage == "aligner" and step.done == 5:
            cancel.cancel()

    with pytest.raises(CancelledError):
        drive(run_stage(interrupted, tmp_path / "resumed", CTX), stop_after_five, cancel)
    _, meta = load_module(tmp_path / "resumed", ALIGNER_KIND, AlignerConfig, LipAligner)
    assert meta["step"] == 5
    assert not meta["complete"]

    resumed = _aligner_stage(corpus, units, steps=8, save_every=100)
    seen: list[Progress] = []
    drive(run_stage(resumed, tmp_path / "resumed", CTX, resume=True), seen.append)
    assert [s.done for s in seen if s.stage == "aligner"] == [6, 7, 8]
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_another_config_is_refused(corpus, units, tmp_path: Path) -> None:
    drive(run_stage(_aligner_stage(corpus, units, steps=2), tmp_path, CTX))
    with pytest.raises(OutputExistsError):
        drive(run_stage(_aligner_stage(corpus, units, steps=2), tmp_path, CTX))
    other = _aligner_stage(corpus, units, steps=2)
    other.config = replace(other.config, label_smoothing=0.2)
    with pytest.raises(ModelLoadError, match="another model config"):
        drive(run_stage(other, tmp_path, CTX, resume=True))
    with pytest.raises(ModelLoadError, match="other training settings"):
        drive(run_stage(_aligner_stage(corpus, units, steps=2, lr=0.5), tmp_path, CTX, resume=True))
    # only the step count may change on resume: that extends the schedule (train --steps)
    drive(run_stage(_aligner_stage(corpus, units, steps=3), tmp_path, CTX, resume=True))


def test_batches_and_schedule_are_pure_functions_of_the_step() -> None:
    train = replace(PRESET.aligner_train, batch_size=5, seed=3)
    first = [global_batch(train, 7, s) for s in range(7)]
    assert first == [global_batch(train, 7, s) for s in range(7)]
    flat = [i for batch in first[:7] for i in batch]
    assert sorted(flat[:7]) == list(range(7))  # each epoch covers every item once
    assert all(len(b) == 5 for b in first)
    lrs = [learning_rate(train, s) for s in range(train.steps)]
    assert lrs[0] < lrs[train.warmup - 1] == pytest.approx(train.lr)
    assert lrs[-1] < lrs[train.warmup]


def test_speaker_folds_keep_speakers_together() -> None:
    speakers = [f"s{i % 5}" for i in range(20)]
    folds = speaker_folds(speakers, 2, seed=0)
    for s in set(speakers):
        assert len({int(f) for f, sp in zip(folds, speakers, strict=True) if sp == s}) == 1
    assert set(folds.tolist()) == {0, 1}
    with pytest.raises(ValueError, match="at least 2 training speakers"):
        speaker_folds(["a"], 2, seed=0)


def _fake_predictions(n: int, length: int, k: int, seed: int) -> tuple[Predictions, list]:
    """Tokens that are wrong exactly where the confidence is low."""
    rng = np.random.default_rng(seed)
    tokens, conf, lps, units = [], [], [], []
    for _ in range(n):
        truth = rng.integers(0, k, length)
        wrong = rng.random(length) < 0.4
        token = np.where(wrong, (truth + 1) % k, truth)
        c = np.where(wrong, rng.uniform(0.05, 0.3, length), rng.uniform(0.6, 0.95, length))
        lp = np.full((length, k), np.log(0.01), dtype=np.float32)
        tokens.append(token.astype(np.int64))
        conf.append(c.astype(np.float32))
        lps.append(lp.astype(np.float16))
        units.append(truth.astype(np.int64))
    return Predictions(tokens, conf, lps), units


def test_detector_learns_which_tokens_are_wrong(tmp_path: Path) -> None:
    k = PRESET.detector.num_units
    train, train_units = _fake_predictions(12, 40, k, seed=0)
    valid, valid_units = _fake_predictions(4, 40, k, seed=1)
    settings = replace(PRESET.detector_train, steps=30, eval_every=30, save_every=30, warmup=3)
    stage = detector_stage(
        PRESET.detector, settings, train, train_units, valid, valid_units, 0.5, meta={}
    )
    drive(run_stage(stage, tmp_path, CTX))
    scores = detector_metrics(stage.model, valid, valid_units, 0.5)
    assert scores["auc"] > 0.9
    assert scores["precision"] > 0.6
    assert scores["recall"] > 0.6


def test_refiner_language_model_loss_falls(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    k = PRESET.refiner.num_units
    # each sequence alternates runs of two units: a masked span is one of the visible two
    seqs = [np.tile(np.repeat(rng.choice(k, 2, replace=False), 4), 8) for _ in range(16)]
    settings = replace(PRESET.refiner_pretrain, steps=80, eval_every=80, save_every=80, lr=5e-3)
    stage = pretrain_stage(PRESET.refiner, settings, seqs, seqs[:4], meta={})
    seen: list[Progress] = []
    result = drive(run_stage(stage, tmp_path, CTX), seen.append)
    losses = _losses(seen, "refiner LM")
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5])
    assert result["history"][-1]["valid_masked_unit_acc"] > 2.0 / k


def test_span_masks_cover_a_share_in_runs() -> None:
    rng = np.random.default_rng(0)
    shares = [span_mask(200, rng).mean() for _ in range(50)]
    assert min(shares) >= 0.15
    assert max(shares) <= 0.75
    mask = span_mask(200, np.random.default_rng(1))
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0])))[::2]
    assert runs.mean() > 3  # spans, not scattered single tokens


def test_fusion_keeps_the_aligner_posterior_in_charge_at_weight_zero() -> None:
    from imagintalk_plugin.nn.refiner import UnitRefiner

    torch.manual_seed(0)
    model = UnitRefiner(PRESET.refiner)
    k = PRESET.refiner.num_units
    lips = np.full((20, k), -9.0, dtype=np.float32)
    lips[:, 3] = 0.0  # the lips say unit 3 everywhere
    tokens = np.zeros(20, dtype=np.int64)
    flagged = np.arange(20) % 2 == 0
    fused = model.refine(tokens, flagged, lips, passes=2, lm_weight=0.0)
    assert (fused[flagged] == 3).all()
    assert (fused[~flagged] == 0).all()
