"""Checkpoints: safetensors + strict versioned config, trainer state and optimizer round trips."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.nn.checkpoint import (
    CONFIG_FILE,
    FORMAT_VERSION,
    WEIGHTS_FILE,
    load_model,
    load_module,
    load_trainer_state,
    optimizer_state_tensors,
    restore_optimizer,
    save_model,
    save_trainer_state,
)
from imagintalk_plugin.nn.lip_aligner import AlignerConfig, LipAligner
from imagintalk_plugin.nn.refiner import RefinerConfig, UnitRefiner
from imagintalk_plugin.nn.visual_encoder import VisualEncoderConfig
from imagintalk_plugin.training.presets import semantic_preset

TINY = semantic_preset("tiny")
ALIGNER = "test-aligner"
META = {"codebook_id": "abc123", "metrics": {"unit_acc": 0.5}, "steps": [1, 2]}


def _saved_aligner(folder: Path) -> LipAligner:
    torch.manual_seed(0)
    model = LipAligner(TINY.aligner)
    save_model(folder, ALIGNER, TINY.aligner, model.state_dict(), META)
    return model


def _assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name


def test_aligner_round_trip_is_bit_exact(tmp_path: Path) -> None:
    model = _saved_aligner(tmp_path)
    loaded, meta = load_module(tmp_path, ALIGNER, AlignerConfig, LipAligner)
    assert meta == META
    assert not loaded.training
    _assert_same_state(model, loaded)
    crops = torch.rand(1, 3, 88, 88)
    model.eval()
    with torch.no_grad():
        for a, b in zip(model(crops), loaded(crops), strict=True):
            assert torch.equal(a, b)


def test_refiner_with_tied_weights_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = UnitRefiner(TINY.refiner).eval()
    with torch.no_grad():  # make the lip projection non-trivial so it is checked too
        model.lip_proj.weight.normal_()
    save_model(tmp_path, "test-refiner", TINY.refiner, model.state_dict())
    loaded, meta = load_module(tmp_path, "test-refiner", RefinerConfig, UnitRefiner)
    assert meta == {}
    _assert_same_state(model, loaded)
    embeddings = loaded.bert.bert.embeddings.word_embeddings.weight
    assert loaded.bert.cls.predictions.decoder.weight is embeddings  # still tied
    ids = torch.randint(0, TINY.refiner.num_units, (2, 12))
    lips = torch.randn(2, 12, TINY.refiner.num_units)
    with torch.no_grad():
        assert torch.equal(model(ids, lips), loaded(ids, lips))


def test_nested_config_round_trips_with_tuples(tmp_path: Path) -> None:
    _saved_aligner(tmp_path)
    document = json.loads((tmp_path / CONFIG_FILE).read_text(encoding="utf-8"))
    assert document["format"] == ALIGNER
    assert document["format_version"] == FORMAT_VERSION
    assert document["config"]["encoder"]["trunk_channels"] == [8, 16]
    config, weights, meta = load_model(tmp_path, ALIGNER, AlignerConfig)
    assert config == TINY.aligner
    assert isinstance(config.encoder, VisualEncoderConfig)
    assert config.encoder.trunk_channels == (8, 16)
    assert isinstance(config.encoder.trunk_channels, tuple)
    assert isinstance(config.encoder.blocks_per_stage, tuple)
    assert meta == META
    assert all(t.device.type == "cpu" for t in weights.values())


def _edit_config(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / CONFIG_FILE
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


def _edit_weights(folder: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    path = folder / WEIGHTS_FILE
    weights = load_file(str(path))
    change(weights)
    save_file(weights, str(path))


def _set_shape(weights: dict[str, torch.Tensor]) -> None:
    weights["head.weight"] = torch.zeros(3, 3)


EDITS: dict[str, tuple[Callable[[Path], None], str]] = {
    "unknown key": (
        lambda f: _edit_config(f, lambda d: d["config"].update(extra=1)),
        "unknown config keys",
    ),
    "unknown nested key": (
        lambda f: _edit_config(f, lambda d: d["config"]["encoder"].update(width=3)),
        "unknown config keys",
    ),
    "missing key": (
        lambda f: _edit_config(f, lambda d: d["config"].pop("num_units")),
        "missing config keys",
    ),
    "missing nested key": (
        lambda f: _edit_config(f, lambda d: d["config"]["encoder"].pop("dim")),
        "missing config keys",
    ),
    "nested not an object": (
        lambda f: _edit_config(f, lambda d: d["config"].update(encoder=3)),
        "must be an object",
    ),
    "wrong format": (
        lambda f: _edit_config(f, lambda d: d.update(format="test-refiner")),
        "expected",
    ),
    "other version": (
        lambda f: _edit_config(f, lambda d: d.update(format_version=FORMAT_VERSION + 1)),
        "format version",
    ),
    "no version": (
        lambda f: _edit_config(f, lambda d: d.pop("format_version")),
        "format version",
    ),
    "unreadable config": (
        lambda f: (f / CONFIG_FILE).write_text("{not json", encoding="utf-8"),
        "unreadable",
    ),
    "no config": (lambda f: (f / CONFIG_FILE).unlink(), "no config.json"),
    "no weights": (lambda f: (f / WEIGHTS_FILE).unlink(), "no model.safetensors"),
    "corrupt weights": (
        lambda f: (f / WEIGHTS_FILE).write_bytes(b"\x00garbage"),
        "unreadable weights",
    ),
    "wrong shape": (lambda f: _edit_weights(f, _set_shape), "has shape"),
    "missing weight": (
        lambda f: _edit_weights(f, lambda w: w.pop("head.bias")),
        "missing",
    ),
    "extra weight": (
        lambda f: _edit_weights(f, lambda w: w.update(spare=torch.zeros(2))),
        "unexpected",
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_broken_folders_are_model_load_errors(tmp_path: Path, case: str) -> None:
    _saved_aligner(tmp_path)
    edit, message = EDITS[case]
    edit(tmp_path)
    with pytest.raises(ModelLoadError, match=message):
        load_module(tmp_path, ALIGNER, AlignerConfig, LipAligner)


def test_load_module_with_the_wrong_kind(tmp_path: Path) -> None:
    _saved_aligner(tmp_path)
    with pytest.raises(ModelLoadError, match="expected 'test-refiner'"):
        load_module(tmp_path, "test-refiner", RefinerConfig, UnitRefiner)


def _train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: int) -> None:
    gen = torch.Generator().manual_seed(steps)
    for _ in range(steps):
        x = torch.randn(8, 4, generator=gen)
        loss = (model(x) - x.sum(-1, keepdim=True)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_optimizer_state_round_trip_gives_identical_next_steps(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.95), weight_decay=0.1)
    _train(model, optimizer, 3)

    tensors, info = optimizer_state_tensors(optimizer)
    assert tensors  # moments and steps are tensors
    assert all(k.startswith("optim.") for k in tensors)
    save_trainer_state(tmp_path, tensors, {"optimizer": info, "step": 3})
    state = load_trainer_state(tmp_path)
    assert state is not None
    loaded_tensors, loaded_info = state

    twin = copy.deepcopy(model)
    twin_optimizer = torch.optim.AdamW(twin.parameters(), lr=0.5)  # settings come from the state
    restore_optimizer(twin_optimizer, loaded_tensors, loaded_info["optimizer"])
    assert twin_optimizer.param_groups[0]["lr"] == 1e-2
    assert tuple(twin_optimizer.param_groups[0]["betas"]) == (0.8, 0.95)

    _train(model, optimizer, 2)
    _train(twin, twin_optimizer, 2)
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


def test_trainer_state_round_trip(tmp_path: Path) -> None:
    tensors = {
        "rng.torch": torch.get_rng_state(),
        "optim.0.exp_avg": torch.randn(3, 2),
        "optim.0.step": torch.tensor(4.0),
    }
    info = {"step": 4, "history": [{"step": 2, "loss": 1.5}], "train": {"lr": 0.001}}
    save_trainer_state(tmp_path / "run", tensors, info)
    state = load_trainer_state(tmp_path / "run")
    assert state is not None
    loaded, loaded_info = state
    assert loaded.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert torch.equal(loaded[name], tensor), name
        assert loaded[name].dtype == tensor.dtype
    assert loaded_info == info


def test_load_trainer_state_without_state_is_none(tmp_path: Path) -> None:
    assert load_trainer_state(tmp_path) is None
    assert load_trainer_state(tmp_path / "missing") is None
    _saved_aligner(tmp_path)  # a model alone is not a training state
    assert load_trainer_state(tmp_path) is None


def test_unreadable_trainer_state_is_a_model_load_error(tmp_path: Path) -> None:
    save_trainer_state(tmp_path, {"x": torch.zeros(2)}, {"step": 1})
    (tmp_path / "trainer_state.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="unreadable training state"):
        load_trainer_state(tmp_path)
