"""Lip-shape features (landmark geometry) and the aligners that read them: the features ignore
head pose and face size, survive frames without a face, and an aligner reading the shape (alone
or beside the pixels) trains, saves its normalisation with its weights and loads strictly,
while a checkpoint from before the option still loads as a pixel aligner."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.frontend.face_models import PREDICTOR_FILE, models_dir, read_mean_shape
from imagintalk_plugin.frontend.lip_shape import LIP_SHAPE_DIM, fill_missing, lip_shape_features
from imagintalk_plugin.nn.checkpoint import config_to_dict, load_model
from imagintalk_plugin.nn.lip_aligner import ALIGNER_KIND, AlignerConfig, LipAligner
from imagintalk_plugin.nn.visual_encoder import VisualEncoderConfig
from imagintalk_plugin.training.loops.aligner_training import aligner_stage, predict_clips
from imagintalk_plugin.training.loops.corpus import LipClip, lip_batch
from imagintalk_plugin.training.loops.distributed import setup_distributed
from imagintalk_plugin.training.loops.loop import run_stage
from imagintalk_plugin.training.presets import semantic_preset

MEAN = read_mean_shape(models_dir() / PREDICTOR_FILE)


def _talking(frames: int, seed: int = 0) -> np.ndarray:
    """(T, 68, 2) landmarks of the mean face at 200 px whose jaw and lower lip open and close."""
    rng = np.random.default_rng(seed)
    base = MEAN * 200.0 + 50.0
    out = np.repeat(base[None], frames, 0)
    opening = 12.0 * (0.5 + 0.5 * np.sin(np.arange(frames) / 2.0))
    for p in (*range(5, 12), *range(55, 60), 65, 66, 67):
        out[:, p, 1] += opening
    return out + rng.normal(0.0, 0.05, out.shape)


def test_features_ignore_head_pose_and_face_size() -> None:
    points = _talking(30)
    features = lip_shape_features(points, np.ones(30, bool), MEAN)
    assert features.shape == (30, LIP_SHAPE_DIM)
    angle, scale, shift = 0.3, 1.7, np.array([40.0, -25.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = points @ (scale * rotation).T + shift
    again = lip_shape_features(moved, np.ones(30, bool), MEAN)
    np.testing.assert_allclose(again, features, atol=1e-4)
    inner_height = features[:, 2 * 27]  # first opening after the 27 points' x and y
    assert np.corrcoef(inner_height, points[:, 66, 1] - points[:, 62, 1])[0, 1] > 0.99


def test_frames_without_a_face_take_the_nearest_face() -> None:
    values = np.arange(6, dtype=float)
    valid = np.array([False, True, False, False, True, False])
    assert fill_missing(values, valid).tolist() == [1, 1, 1, 4, 4, 4]
    points = _talking(6)
    points[~valid] = 0.0  # what the front-end leaves where it found no face
    features = lip_shape_features(points, valid, MEAN)
    assert np.isfinite(features).all()
    assert lip_shape_features(points, np.zeros(6, bool), MEAN).any() == np.False_


def _clips(count: int, frames: int) -> tuple[list[LipClip], list[np.ndarray]]:
    """Clips whose units say whether the lower lip is down: random per pair of frames, so
    only the lip shape (not the time) tells them, and the pixels are noise."""
    clips, units = [], []
    rng = np.random.default_rng(1)
    for i in range(count):
        points = _talking(frames, seed=i)
        down = np.repeat(rng.integers(0, 2, (frames + 1) // 2), 2)[:frames]
        for p in (57, 58, 56, 66):
            points[:, p, 1] += 8.0 * down
        shape = lip_shape_features(points, np.ones(frames, bool), MEAN)
        crops = rng.integers(0, 256, (frames, 96, 96), dtype=np.uint8)
        clips.append(LipClip(crops, shape))
        units.append(np.repeat(down.astype(np.int64), 2))
    return clips, units


def test_lip_batch_cuts_the_shape_with_its_frames() -> None:
    clips, units = _clips(2, 12)
    rngs = [np.random.default_rng(0), np.random.default_rng(1)]
    batch = lip_batch(clips, units, crop_size=88, max_frames=5, rngs=rngs)
    assert batch.shape is not None
    assert batch.shape.shape == (2, 5, LIP_SHAPE_DIM)
    for i in range(2):
        rows = [
            int(np.flatnonzero((clips[i].shape == row).all(1))[0]) for row in batch.shape[i].numpy()
        ]
        assert rows == list(range(rows[0], rows[0] + 5))
        assert batch.targets[i].tolist() == units[i][2 * rows[0] : 2 * rows[0] + 10].tolist()
    assert lip_batch([LipClip(clips[0].crops)], units[:1], crop_size=88, max_frames=5).shape is None


@pytest.mark.parametrize("inputs", ["shape", "both"])
def test_an_aligner_reading_the_shape_learns_and_reloads(inputs: str, tmp_path: Path) -> None:
    preset = semantic_preset("tiny")
    encoder = replace(preset.aligner.encoder, inputs=inputs)
    config = replace(preset.aligner, encoder=encoder, num_units=2)
    train = replace(
        preset.aligner_train, steps=40, eval_every=1000, save_every=1000, lr=3e-3, warmup=5
    )
    clips, units = _clips(12, 16)
    stage = aligner_stage(config, train, clips[:10], units[:10], [], [], meta={})
    drive(run_stage(stage, tmp_path, setup_distributed("cpu")))
    model = stage.model
    assert isinstance(model, LipAligner)
    scores = predict_clips(model, clips[10:])
    accuracy = np.mean([(t == u).mean() for t, u in zip(scores.tokens, units[10:], strict=True)])
    assert accuracy > 0.75  # random crops: only the shape carries the units
    loaded_config, weights, _ = load_model(tmp_path, ALIGNER_KIND, AlignerConfig)
    assert loaded_config.encoder.inputs == inputs
    again = LipAligner(loaded_config)
    again.load_state_dict(weights)
    torch.testing.assert_close(again.encoder.shape_std, model.encoder.shape_std)
    assert not torch.equal(again.encoder.shape_std, torch.ones(LIP_SHAPE_DIM))
    with pytest.raises(ValueError, match="pass `shape`"):
        again.predict(clips[0].crops)


def test_a_checkpoint_from_before_the_option_loads_as_pixels() -> None:
    from imagintalk_plugin.nn.checkpoint import config_from_dict

    saved = config_to_dict(AlignerConfig())
    del saved["encoder"]["inputs"], saved["encoder"]["shape_dim"]
    config = config_from_dict(AlignerConfig, saved, Path("x"))
    assert config.encoder.inputs == "pixels"
    assert not hasattr(LipAligner(config).encoder, "shape_project")
    with pytest.raises(ValueError, match="inputs must be one of"):
        LipAligner(AlignerConfig(encoder=VisualEncoderConfig(inputs="lips")))
