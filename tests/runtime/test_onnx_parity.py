"""ONNX export of every stage (a `dit_voice` too) and the onnxruntime backend: same outputs as
torch at any length."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime", reason="the ONNX backend needs onnxruntime (extra: cpu)")
pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript")

from imagintalk_plugin.core.errors import ModelLoadError, UsageError
from imagintalk_plugin.nn.codec import MelCodec
from imagintalk_plugin.nn.error_detector import ErrorDetector
from imagintalk_plugin.nn.lip_aligner import LipAligner
from imagintalk_plugin.nn.refiner import UnitRefiner
from imagintalk_plugin.nn.speech_generator import SpeechGenerator
from imagintalk_plugin.nn.vocoder import Vocoder
from imagintalk_plugin.runtime.onnx_backend import onnx_stages
from imagintalk_plugin.runtime.onnx_export import SIDECAR, example_inputs, export_onnx
from imagintalk_plugin.runtime.stages import (
    OVERRIDE_STAGE_NAMES,
    STAGE_NAMES,
    Stages,
    stage_modules,
    torch_stages,
)
from imagintalk_plugin.training.acoustic_presets import acoustic_preset
from imagintalk_plugin.training.presets import semantic_preset

ATOL = 1e-5  # float32 kernels of two runtimes; the largest difference seen is 4e-6 (aligner)
RTOL = 1e-4
AUDIO_ATOL = 1e-6  # the vocoder's audio is small (|x| < 0.1 here); largest difference 6e-8
SOURCE = {"semantic": "tiny-seed-0", "acoustic": "tiny-seed-0"}
# (batch, time): three lengths the export never saw (it traced 13), and a batch of two
SHAPES = [(1, 7), (1, 20), (1, 53), (2, 20)]


def _tiny_models() -> tuple[torch.nn.Module, ...]:
    """The tiny presets' six models and a second Style-DiT (a run's `dit_voice`), every
    parameter perturbed (seeded) so that paths initialised at zero (adaLN, lip projections,
    emotion) carry signal too."""
    torch.manual_seed(0)
    semantic, acoustic = semantic_preset("tiny"), acoustic_preset("tiny")
    models = (
        LipAligner(semantic.aligner),
        ErrorDetector(semantic.detector),
        UnitRefiner(semantic.refiner),
        SpeechGenerator(acoustic.generator),
        MelCodec(acoustic.codec),
        Vocoder(acoustic.vocoder.vocoder),
        SpeechGenerator(acoustic.generator),
    )
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for model in models:
            model.eval()
            for param in model.parameters():
                param.add_(0.05 * torch.randn(param.shape, generator=generator))
    return models


class Exported:
    """The models, their wrappers, the export folder and both backends."""

    def __init__(self, folder: Path) -> None:
        self.models = _tiny_models()
        self.modules = stage_modules(*self.models)
        start = time.perf_counter()
        self.files = export_onnx(self.modules, folder, source=SOURCE)
        self.export_seconds = time.perf_counter() - start
        self.folder = folder
        self.torch: Stages = torch_stages(*self.models)
        self.onnx: Stages = onnx_stages(folder, threads=1, expected_source=SOURCE)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread, so a busy machine does not stall
    try:
        yield Exported(tmp_path_factory.mktemp("onnx") / "export")
    finally:
        torch.set_num_threads(before)


def _as_tuple(value: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize(("batch", "length"), SHAPES)
@pytest.mark.parametrize("stage", [*STAGE_NAMES, *OVERRIDE_STAGE_NAMES])
def test_onnx_stage_matches_torch(exported: Exported, stage: str, batch: int, length: int):
    args = example_inputs(stage, exported.modules[stage], batch, length, seed=length + batch)
    expected = _as_tuple(getattr(exported.torch, stage)(*args))
    actual = _as_tuple(getattr(exported.onnx, stage)(*args))
    assert len(actual) == len(expected)
    atol = AUDIO_ATOL if stage == "vocoder" else ATOL
    for got, want in zip(actual, expected, strict=True):
        assert got.shape == want.shape
        assert got.dtype == want.dtype
        torch.testing.assert_close(got, want, atol=atol, rtol=RTOL)


def test_vocoder_stage_gives_audio_of_the_frame_contract(exported: Exported):
    mel = example_inputs("vocoder", exported.modules["vocoder"], 2, 20)[0]
    audio = exported.onnx.vocoder(mel)
    hop = json.loads((exported.folder / SIDECAR).read_text())["vocoder"]["hop"]
    assert audio.shape == (2, 20 * hop)
    assert torch.isfinite(audio).all()
    empty = torch.zeros(2, mel.shape[1], 0)
    assert exported.onnx.vocoder(empty).shape == exported.torch.vocoder(empty).shape == (2, 0)


def test_export_writes_every_stage_and_a_sidecar(exported: Exported):
    names = [*STAGE_NAMES, *OVERRIDE_STAGE_NAMES]
    assert [path.name for path in exported.files] == [f"{n}.onnx" for n in names] + [SIDECAR]
    sidecar = json.loads((exported.folder / SIDECAR).read_text())
    assert (sidecar["format"], sidecar["format_version"]) == ("imagintalk/onnx", 2)
    assert sidecar["source"] == SOURCE
    vocoder = exported.models[5].config
    assert sidecar["vocoder"] == {"n_fft": vocoder.n_fft, "hop": vocoder.mel.hop}
    aligner = sidecar["stages"]["aligner"]
    assert (aligner["inputs"], aligner["outputs"]) == (["crops", "pad"], ["logits", "features"])
    assert aligner["dynamic_axes"]["crops"] == {"0": "batch", "1": "time"}
    assert aligner["dynamic_axes"]["pad"] == {"0": "batch", "1": "time"}
    assert sidecar["stages"]["dit"]["dynamic_axes"]["codes"] == {"0": "batch", "2": "time"}
    assert sidecar["stages"]["refiner"]["max_time"] == exported.models[2].config.max_positions
    assert exported.onnx.backend == "onnx"
    assert exported.onnx.threads == 1
    assert exported.export_seconds < 120, f"export took {exported.export_seconds:.0f} s"
    assert not list(exported.folder.glob(".*")), "temporary files left behind"


def test_dit_and_refiner_graphs_have_no_nan_guard_over_the_attention_scores(exported: Exported):
    # a boolean attention mask exports as IsNaN + Where over every (B, H, T, T) score map, which
    # made onnxruntime's Style-DiT slower than torch's; the additive key bias
    # (nn.attention_masks) exports without
    import onnx

    for name in ("dit", "dit_voice", "refiner"):
        ops = {node.op_type for node in onnx.load(exported.folder / f"{name}.onnx").graph.node}
        assert "IsNaN" not in ops, name
        assert "Softmax" in ops, name
    refiner = exported.models[2]  # torch keeps its SDPA attention, given the bias as a mask
    assert refiner.bert.config._attn_implementation == "sdpa"


def test_export_refuses_an_existing_folder_without_force(exported: Exported):
    with pytest.raises(UsageError, match="already holds") as caught:
        export_onnx(exported.modules, exported.folder, source=SOURCE)
    assert "\n" not in str(caught.value)


def _copy(exported: Exported, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(exported.folder, folder)
    return folder


def test_onnx_backend_refuses_another_format_version(exported: Exported, tmp_path: Path):
    folder = _copy(exported, tmp_path)
    sidecar = json.loads((folder / SIDECAR).read_text())
    sidecar["format_version"] = 1  # an export from before the stages took `pad`
    (folder / SIDECAR).write_text(json.dumps(sidecar))
    with pytest.raises(ModelLoadError, match="format_version 1") as caught:
        onnx_stages(folder, threads=1)
    assert "\n" not in str(caught.value)


def test_onnx_backend_refuses_an_export_of_other_weights(exported: Exported):
    with pytest.raises(ModelLoadError, match="other weights"):
        onnx_stages(exported.folder, threads=1, expected_source={**SOURCE, "acoustic": "x"})


def test_onnx_backend_refuses_a_folder_missing_a_stage(exported: Exported, tmp_path: Path):
    folder = _copy(exported, tmp_path)
    (folder / "dit.onnx").unlink()
    with pytest.raises(ModelLoadError, match="dit"):
        onnx_stages(folder, threads=1)
    (folder / SIDECAR).unlink()
    with pytest.raises(ModelLoadError, match=SIDECAR):
        onnx_stages(folder, threads=1)


def test_an_export_without_dit_voice_loads_and_half_of_one_is_refused(
    exported: Exported, tmp_path: Path
):
    """A checkpoint without `dit_voice` exports without its stages (a previous export's files
    removed); a sidecar with one of the two override stages is refused."""
    folder = _copy(exported, tmp_path)
    plain = {k: v for k, v in exported.modules.items() if k not in OVERRIDE_STAGE_NAMES}
    written = export_onnx(plain, folder, source=SOURCE, force=True)
    assert [p.name for p in written] == [f"{n}.onnx" for n in STAGE_NAMES] + [SIDECAR]
    assert not (folder / "dit_voice.onnx").exists()
    stages = onnx_stages(folder, threads=1, expected_source=SOURCE)
    assert stages.dit_voice is None
    assert stages.style_voice is None
    assert stages.voice_path().dit_voice is None
    sidecar = json.loads((exported.folder / SIDECAR).read_text())
    del sidecar["stages"]["style_voice"]
    half = _copy(exported, tmp_path / "half")
    (half / SIDECAR).write_text(json.dumps(sidecar))
    with pytest.raises(ModelLoadError, match="dit_voice"):
        onnx_stages(half, threads=1)


def test_onnx_backend_refuses_cuda_without_its_provider(exported: Exported):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ModelLoadError, match="CUDAExecutionProvider"):
        onnx_stages(exported.folder, device="cuda")
