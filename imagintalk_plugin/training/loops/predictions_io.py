"""Aligner predictions on disk (safetensors + ids), so the refiner reuses the detector's folds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.training.loops.aligner_training import Predictions


def save_predictions(path: Path, ids: list[str], predictions: Predictions) -> None:
    """Write predictions for clips `ids` to `path` (+ `path`.json listing the ids)."""
    lengths = torch.tensor([len(t) for t in predictions.tokens], dtype=torch.int64)
    tensors = {
        "lengths": lengths,
        "tokens": torch.from_numpy(np.concatenate(predictions.tokens)),
        "confidence": torch.from_numpy(np.concatenate(predictions.confidence)),
        "log_probs": torch.from_numpy(np.concatenate(predictions.log_probs)),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps({"ids": ids}) + "\n", encoding="utf-8")


def load_predictions(path: Path, ids: list[str]) -> Predictions:
    """Predictions for exactly the clips `ids`, in that order; others are an error."""
    try:
        stored_ids = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["ids"]
        tensors = load_file(str(path))
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(
            path, f"no readable fold predictions ({error}); train the detector first"
        ) from None
    where = {clip: i for i, clip in enumerate(stored_ids)}
    missing = [clip for clip in ids if clip not in where]
    if missing:
        raise ModelLoadError(
            path,
            f"has no predictions for {len(missing)} clips, e.g. {missing[0]} "
            "(retrain the detector on this data)",
        )
    bounds = np.concatenate([[0], np.cumsum(tensors["lengths"].numpy())])
    parts = {name: tensors[name].numpy() for name in ("tokens", "confidence", "log_probs")}

    def take(name: str) -> list[np.ndarray]:
        return [parts[name][bounds[where[c]] : bounds[where[c] + 1]] for c in ids]

    return Predictions(take("tokens"), take("confidence"), take("log_probs"))
