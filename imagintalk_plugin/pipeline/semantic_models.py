"""Loading a trained semantic branch (units, aligner, detector, refiner) from a run folder.

Every model stores the codebook it was trained on; loading checks they all agree, so a model
never decodes units from another codebook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from imagintalk_plugin.core.errors import ModelLoadError, UsageError
from imagintalk_plugin.nn.checkpoint import load_module
from imagintalk_plugin.nn.device import pick_device
from imagintalk_plugin.nn.error_detector import DETECTOR_KIND, DetectorConfig, ErrorDetector
from imagintalk_plugin.nn.lip_aligner import ALIGNER_KIND, AlignerConfig, LipAligner
from imagintalk_plugin.nn.refiner import MASKINGS, REFINER_KIND, Masking, RefinerConfig, UnitRefiner
from imagintalk_plugin.nn.units import UnitExtractor


@dataclass(frozen=True, eq=False)
class SemanticModels:
    """The four trained parts of the semantic branch."""

    units: UnitExtractor
    aligner: LipAligner
    detector: ErrorDetector
    refiner: UnitRefiner


def require_stage(out: Path, stage: str, command: str) -> Path:
    """RUN/stage, or a usage error naming the command that makes it."""
    folder = out / stage
    if not (folder / "config.json").exists():
        raise UsageError(f"no {stage} in {out}: run `imagintalk train {command}` first")
    return folder


def load_units(out: Path) -> UnitExtractor:
    """RUN/units, or a usage error saying to train them first."""
    return UnitExtractor.load(require_stage(out, "units", "units"))


def check_codebook(folder: Path, meta: dict, units: UnitExtractor) -> None:
    """Refuse a model trained on another codebook than `units`."""
    found = meta.get("codebook_id")
    if found != units.codebook_id:
        raise ModelLoadError(
            folder, f"was trained on codebook {found}, but the units are {units.codebook_id}"
        )


def load_aligner(out: Path, units: UnitExtractor, device: str | None = None) -> LipAligner:
    """RUN/aligner, checked against the units (and, if it reads the lip shape, against the
    front-end's lip-shape features)."""
    from imagintalk_plugin.frontend.lip_shape import LIP_SHAPE_DIM

    model, meta = load_module(out / "aligner", ALIGNER_KIND, AlignerConfig, LipAligner)
    check_codebook(out / "aligner", meta, units)
    dim = model.config.encoder.shape_dim
    if model.reads_shape and dim != LIP_SHAPE_DIM:
        raise ModelLoadError(
            out / "aligner", f"reads {dim} lip-shape features; this version makes {LIP_SHAPE_DIM}"
        )
    return model.to(pick_device(device))


def load_detector(out: Path, units: UnitExtractor, device: str | None = None) -> ErrorDetector:
    """RUN/detector, checked against the units."""
    model, meta = load_module(out / "detector", DETECTOR_KIND, DetectorConfig, ErrorDetector)
    check_codebook(out / "detector", meta, units)
    return model.to(pick_device(device))


def load_refiner(
    out: Path, units: UnitExtractor, device: str | None = None, folder: str = "refiner"
) -> UnitRefiner:
    """RUN/refiner (or RUN/refiner_lm), checked against the units."""
    model, meta = load_module(out / folder, REFINER_KIND, RefinerConfig, UnitRefiner)
    check_codebook(out / folder, meta, units)
    return model.to(pick_device(device))


REFINER_FOLDERS = ("refiner", "refiner_lm")  # fine-tuned, or the LM it was fine-tuned from
DEFAULT_THRESHOLD = 0.5  # detector threshold when a checkpoint has no calibration


@dataclass(frozen=True)
class Calibration:
    """How the refiner is applied, fitted on validation clips: which refiner serves (the
    fine-tuned one, or its pretrained LM when fine-tuning did not beat it), the flag threshold,
    the lips-vs-language-model weight and the masking (`nn.refiner.MASKINGS`; calibrations
    written before "runs" existed masked all flagged steps at once)."""

    threshold: float = DEFAULT_THRESHOLD
    lm_weight: float = 1.0
    model: str = "refiner"
    masking: Masking = "all"

    @staticmethod
    def read(folder: Path) -> Calibration:
        """`refiner/calibration.json` of a run or checkpoint, or the defaults when it has none."""
        path = folder / "refiner" / "calibration.json"
        if not path.exists():
            return Calibration()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            calibration = Calibration(
                float(data["threshold"]),
                float(data["lm_weight"]),
                str(data.get("model", "refiner")),
                data.get("masking", "all"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ModelLoadError(path, f"unreadable calibration ({err})") from err
        if calibration.masking not in MASKINGS:
            raise ModelLoadError(
                path, f"unknown masking '{calibration.masking}' (one of {MASKINGS})"
            )
        if calibration.model not in REFINER_FOLDERS:
            raise ModelLoadError(
                path, f"unknown refiner '{calibration.model}' (one of {REFINER_FOLDERS})"
            )
        return calibration


def chosen_refiner(out: Path) -> str:
    """The refiner folder the calibration chose ("refiner" when there is none)."""
    return Calibration.read(out).model


def load_models(out: Path, device: str | None = None) -> SemanticModels:
    """All four parts from a run folder (the refiner its calibration chose)."""
    units = UnitExtractor.load(out / "units")
    return SemanticModels(
        units=units,
        aligner=load_aligner(out, units, device),
        detector=load_detector(out, units, device),
        refiner=load_refiner(out, units, device, folder=chosen_refiner(out)),
    )
