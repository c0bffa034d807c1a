"""One `imagintalk train` invocation, the stage names, and what every stage shares: step
overrides, metrics files, and the refusal to overwrite a trained stage."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from imagintalk_plugin.core.errors import OutputExistsError, UsageError
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.training.training_data import DataSource, as_sources

SEMANTIC_STAGES = ("units", "line", "aligner", "detector", "refiner", "evaluate")
# training/acoustic_stages.py; dit-voice: the Style-DiT for identity overrides (RUN/dit_voice)
ACOUSTIC_STAGES = ("codec", "vocoder", "dit", "dit-voice", "evaluate-voice")
DIT_STAGES = ("dit", "dit-voice")
STAGES = SEMANTIC_STAGES + ACOUSTIC_STAGES


@dataclass(frozen=True)
class TrainRequest:
    """One `imagintalk train` invocation."""

    stage: str
    preset: str
    data: Path | tuple[DataSource, ...]  # one manifest, or several with weights (--data)
    out: Path
    resume: bool = False
    force: bool = False
    jobs: int = 0
    limit: int | None = None
    hubert: Path | None = None  # a local HuBERT checkpoint folder: units from its layer 6
    phonetic: bool = False  # units: a phone classifier's bottleneck (learnt from timed phones)
    steps: int | None = None  # overrides the preset's step count for this stage (--steps)
    voice_bank: int | None = None  # dit(-voice): speakers without video (--voice-bank)
    lip_drop: float | None = None  # dit(-voice): share of items trained without lips (--lip-drop)
    init: Path | None = None  # codec, vocoder: start from this model's weights (--init)
    lip_input: str | None = None  # aligner: "pixels", "shape" or "both" (--lip-input)

    @property
    def sources(self) -> tuple[DataSource, ...]:
        """The training manifests with their weights."""
        return as_sources(self.data)

    @property
    def data_label(self) -> str:
        """The manifests as `--data` reads them, for run metadata and messages."""
        return " ".join(
            str(s.manifest) + ("" if s.weight == 1.0 else f":{s.weight:g}") for s in self.sources
        )


PresetT = TypeVar("PresetT")


def with_steps(preset: PresetT, stage: str, steps: int | None) -> PresetT:
    """The preset with `stage`'s step count replaced (`train --steps N`; with --resume this
    extends a finished stage, its learning-rate schedule stretched to the new length)."""
    if steps is None:
        return preset
    field = "dit_train" if stage == "dit-voice" else f"{stage}_train"  # both DiTs: one schedule
    if not hasattr(preset, field):
        raise UsageError(
            "--steps applies to aligner, detector, codec, vocoder, dit and dit-voice, "
            f"not to '{stage}'"
        )
    if steps < 1:
        raise UsageError(f"--steps must be at least 1, not {steps}")
    longer = replace(getattr(preset, field), steps=steps)
    return replace(preset, **{field: longer})  # type: ignore[type-var]


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
