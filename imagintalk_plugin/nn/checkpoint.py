"""Checkpoints as data: `model.safetensors` + a versioned `config.json`, loaded strictly.

A model folder holds the weights (safetensors, never pickle) and a JSON file naming the model
family (`format`), the format version, the model's config dataclass and free-form metadata
(the codebook identity, metrics, the training recipe). Loading checks all of it: another
family, another version, a config key that is missing or unknown, or a weight that is missing,
extra or of another shape is a `ModelLoadError`, never silently ignored.

Training state for resuming (optimizer moments, RNG state, step) is stored the same way in
`trainer_state.safetensors` + `trainer_state.json`, so nothing here ever unpickles.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

import torch
from safetensors.torch import load_file, save_file

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.core.files import atomic_path

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_WEIGHTS_FILE = "trainer_state.safetensors"
STATE_FILE = "trainer_state.json"

C = TypeVar("C")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as JSON-ready data (tuples become lists)."""
    if not is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"not a config dataclass: {config!r}")
    return json.loads(json.dumps(asdict(config)))


def config_from_dict(cls: type[C], data: Mapping[str, Any], where: Path) -> C:
    """Build `cls` from `data`, refusing missing or unknown keys (strict, like the weights).

    The one exception: keys the class lists in `ADDED_KEYS` (fields added after checkpoints
    were saved, whose defaults are how those checkpoints were trained) may be absent."""
    names = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(names))
    missing = sorted(set(names) - set(data) - set(getattr(cls, "ADDED_KEYS", ())))
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown config keys {unknown}")
        if missing:
            parts.append(f"missing config keys {missing}")
        raise ModelLoadError(where, "; ".join(parts))
    hints = get_type_hints(cls)
    values = {}
    for name, value in data.items():
        hint = hints.get(name)
        if is_dataclass(hint) and isinstance(hint, type):
            if not isinstance(value, Mapping):
                raise ModelLoadError(where, f"config key '{name}' must be an object")
            value = config_from_dict(hint, value, where)
        elif isinstance(value, list):
            value = tuple(value)  # configs hold tuples; JSON has only lists
        values[name] = value
    return cls(**values)


def save_model(
    folder: Path,
    kind: str,
    config: Any,
    weights: Mapping[str, torch.Tensor],
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Write `folder/model.safetensors` and `folder/config.json` (each atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    # cloned: tied weights (BERT's decoder = its embeddings) must not share storage on disk
    tensors = {name: t.detach().to("cpu").clone().contiguous() for name, t in weights.items()}
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"format": kind})
    document = {
        "format": kind,
        "format_version": FORMAT_VERSION,
        "config": config_to_dict(config),
        "meta": dict(meta or {}),
    }
    with atomic_path(folder / CONFIG_FILE) as tmp:
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_model_document(folder: Path, kind: str) -> dict[str, Any]:
    """The checked `config.json` of a model folder of family `kind`."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ModelLoadError(folder, f"no {CONFIG_FILE} (not a trained {kind} folder)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelLoadError(path, f"unreadable: {error}") from None
    if not isinstance(document, dict) or document.get("format") != kind:
        found = document.get("format") if isinstance(document, dict) else None
        raise ModelLoadError(path, f"holds a '{found}' model, expected '{kind}'")
    if document.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(
            path,
            f"format version {document.get('format_version')} (this build reads {FORMAT_VERSION})",
        )
    if not isinstance(document.get("config"), dict) or not isinstance(document.get("meta"), dict):
        raise ModelLoadError(path, "config and meta must be JSON objects")
    return document


def load_model(
    folder: Path, kind: str, config_cls: type[C]
) -> tuple[C, dict[str, torch.Tensor], dict]:
    """(config, weights, meta) of a model folder, all checked; weights stay on the CPU."""
    document = read_model_document(folder, kind)
    config = config_from_dict(config_cls, document["config"], folder / CONFIG_FILE)
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise ModelLoadError(folder, f"no {WEIGHTS_FILE}")
    try:
        weights = load_file(str(path))
    except Exception as error:  # safetensors raises its own types for corrupt files
        raise ModelLoadError(path, f"unreadable weights: {error}") from None
    return config, weights, document["meta"]


def load_weights_strictly(
    module: torch.nn.Module, weights: Mapping[str, torch.Tensor], where: Path
) -> None:
    """`module.load_state_dict(weights, strict=True)`, with a one-line error naming the file."""
    own = module.state_dict()
    missing = sorted(set(own) - set(weights))
    extra = sorted(set(weights) - set(own))
    if missing or extra:
        raise ModelLoadError(
            where, f"weights do not fit the model: missing {missing[:4]}, unexpected {extra[:4]}"
        )
    for name, tensor in weights.items():
        if tuple(own[name].shape) != tuple(tensor.shape):
            raise ModelLoadError(
                where,
                f"weight '{name}' has shape {tuple(tensor.shape)}, the model wants "
                f"{tuple(own[name].shape)}",
            )
    module.load_state_dict(dict(weights), strict=True)


def save_trainer_state(
    folder: Path, tensors: Mapping[str, torch.Tensor], info: Mapping[str, Any]
) -> None:
    """Write the resumable training state (tensors + JSON), each file atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    cpu = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    with atomic_path(folder / STATE_WEIGHTS_FILE) as tmp:
        save_file(cpu, str(tmp))
    with atomic_path(folder / STATE_FILE) as tmp:
        tmp.write_text(json.dumps(dict(info), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_trainer_state(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """The saved training state of `folder`, or None when there is none."""
    if not (folder / STATE_FILE).is_file() or not (folder / STATE_WEIGHTS_FILE).is_file():
        return None
    try:
        info = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        tensors = load_file(str(folder / STATE_WEIGHTS_FILE))
    except Exception as error:
        raise ModelLoadError(folder, f"unreadable training state: {error}") from None
    return tensors, info


def optimizer_state_tensors(
    optimizer: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer's state into named tensors and JSON-ready scalars."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, slots in state["state"].items():
        for name, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor], info: Mapping[str, Any]
) -> None:
    """Inverse of `optimizer_state_tensors`."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, slots in info.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(slots)
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})


M = TypeVar("M", bound=torch.nn.Module)


def load_module(
    folder: Path, kind: str, config_cls: type[C], build: Callable[[C], M]
) -> tuple[M, dict[str, Any]]:
    """A trained module from its folder (strict config and weights) and its metadata."""
    config, weights, meta = load_model(folder, kind, config_cls)
    module = build(config)
    load_weights_strictly(module, weights, folder)
    module.eval()
    return module, meta
