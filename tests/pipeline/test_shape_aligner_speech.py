"""A checkpoint whose aligner reads the lip shape (`train aligner --lip-input shape`) speaks:
the pipeline feeds it each window's landmark geometry (the units follow the landmarks, not
only the pixels), and its ONNX export speaks like torch."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_dubbing import _track
from tiny_checkpoint import write_tiny_checkpoint

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.frontend.face_models import PREDICTOR_FILE, models_dir, read_mean_shape
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings
from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages
from imagintalk_plugin.pipeline.speech import SpeechSettings, speak_track

SETTINGS = SpeechSettings(sampler=SamplerSettings(steps=2), window_s=2.0, overlap_s=0.5)


@pytest.fixture(scope="module")
def shape_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("shape_ckpt"), aligner_inputs="shape")


def _talking_track(frames: int, seed: int):
    """`_track`'s crops with the landmarks of a face whose lower lip moves at random."""
    mean = read_mean_shape(models_dir() / PREDICTOR_FILE)
    points = np.repeat((mean * 200.0 + 50.0)[None], frames, 0)
    rng = np.random.default_rng(seed)
    points[:, 56:60, 1] += rng.uniform(0, 15, (frames, 1))
    return replace(_track(frames), landmarks=points.astype(np.float32))


def test_the_aligner_reads_each_window_s_lip_shape(shape_checkpoint: Path) -> None:
    models = load_dub_models(shape_checkpoint, "cpu")
    assert models.semantic.aligner.reads_shape
    stages = make_stages(models)
    one = drive(speak_track(models, stages, _talking_track(120, 0), SETTINGS))
    again = drive(speak_track(models, stages, _talking_track(120, 0), SETTINGS))
    other = drive(speak_track(models, stages, _talking_track(120, 1), SETTINGS))
    assert len(one.units.tokens) == 240
    assert np.array_equal(one.units.tokens, again.units.tokens)
    assert not np.array_equal(one.units.tokens, other.units.tokens)  # same pixels, other lips


def test_a_shape_reading_export_speaks_like_torch(shape_checkpoint: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the ONNX backend needs onnxruntime")
    pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript")
    args = ["export-onnx", "--checkpoint", str(shape_checkpoint), "--out", str(tmp_path / "x")]
    assert main(args) == 0
    exported = tmp_path / "ckpt"
    shutil.copytree(shape_checkpoint, exported)
    shutil.copytree(tmp_path / "x", exported / "onnx")
    models = load_dub_models(exported, "cpu")
    track = _talking_track(60, 2)
    settings = SpeechSettings(sampler=SamplerSettings(steps=2))
    by_torch = drive(speak_track(models, make_stages(models, "torch"), track, settings))
    by_onnx = drive(speak_track(models, make_stages(models, "onnx"), track, settings))
    assert np.array_equal(by_torch.units.tokens, by_onnx.units.tokens)
    np.testing.assert_allclose(by_torch.error_prob, by_onnx.error_prob, atol=1e-5)
