"""A dubbing checkpoint: the seven trained stages from one folder, checked together.

A checkpoint is a run folder or a shipped model (`core.paths.default_checkpoint()`): `units/`,
`aligner/`, `detector/`, `refiner/` (with `calibration.json`, the detector threshold and fusion
weight fitted on validation clips), `codec/`, `vocoder/`, `dit/`, each a safetensors file plus a
versioned JSON config (never pickles), optionally `dit_voice/` (the Style-DiT for takes whose
identity the editor replaces) and `onnx/` from `imagintalk export-onnx`.
Loading checks that every part agrees: one unit codebook, one codec, the aligner the DiT was
trained on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.nn.device import pick_device
from imagintalk_plugin.pipeline.acoustic_models import (
    VoiceModels,
    load_voice_models,
    weights_digest,
)
from imagintalk_plugin.pipeline.line_table import FOLDER as LINE_FOLDER
from imagintalk_plugin.pipeline.line_table import LineTable, load_line_table
from imagintalk_plugin.pipeline.semantic_models import Calibration, SemanticModels, load_models
from imagintalk_plugin.runtime.stages import Stages, torch_stages

PARTS = ("units", "aligner", "detector", "refiner", "codec", "vocoder", "dit")
BACKENDS = ("torch", "onnx")


@dataclass(frozen=True, eq=False)
class DubModels:
    """Everything a dub needs, loaded and cross-checked."""

    folder: Path
    semantic: SemanticModels
    voice: VoiceModels
    calibration: Calibration
    digest: str = ""  # `content_digest` of the folder: what a take is reused by
    line_table: LineTable | None = None  # known lines (ADR): reference -> model units

    @property
    def name(self) -> str:
        """Short model name for take metadata: folder name + the DiT's codec identity."""
        return f"{self.folder.name}:{self.voice.codec_id}"


def check_checkpoint(folder: Path) -> None:
    """A usage error naming what is missing, before anything heavy loads."""
    if not folder.is_dir():
        raise UsageError(f"checkpoint '{folder}' is not a folder")
    missing = [part for part in PARTS if not (folder / part / "config.json").exists()]
    if missing:
        raise UsageError(
            f"checkpoint '{folder}' lacks {', '.join(missing)}: train them with "
            f"`imagintalk train STAGE --out {folder}` or pass another --checkpoint"
        )


def content_digest(folder: Path) -> str:
    """A short SHA-256 of every file the stages load (weights, configs, the calibration).

    Takes are reused by it, not by the folder's name: a retrained or edited model in the same
    folder makes fresh takes. `onnx/` is left out (it is checked against the weights itself).
    """
    sha = hashlib.sha256()
    for part in (*PARTS, "dit_voice", LINE_FOLDER):
        for path in sorted((folder / part).glob("*")) if (folder / part).is_dir() else []:
            loaded = path.suffix in (".json", ".safetensors") and path.stem != "metrics"
            if path.is_file() and loaded:
                sha.update(f"{part}/{path.name}\0".encode())
                with path.open("rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 20), b""):
                        sha.update(block)
    return sha.hexdigest()[:16]


def load_dub_models(folder: Path, device: str | None = None) -> DubModels:
    """Every stage of `folder` on `device` (None/auto: CUDA when available)."""
    check_checkpoint(folder)
    try:
        torch_device = pick_device(device)
    except ValueError as err:  # --device cuda without a GPU
        raise UsageError(str(err)) from err
    semantic = load_models(folder, str(torch_device))
    voice = load_voice_models(folder, str(torch_device))
    voice.check_aligner(semantic.aligner, folder / "dit")
    line_table = load_line_table(folder, semantic.units.codebook_id)
    calibration = Calibration.read(folder)
    return DubModels(folder, semantic, voice, calibration, content_digest(folder), line_table)


def source_identity(models: DubModels) -> dict[str, str]:
    """What an ONNX export must have been made from: the codebook and every stage's weights."""
    s, v = models.semantic, models.voice
    identity = {
        "codebook_id": s.units.codebook_id,
        "codec_id": v.codec_id,
        "aligner_id": weights_digest(s.aligner),
        "detector_id": weights_digest(s.detector),
        "refiner_id": weights_digest(s.refiner),
        "dit_id": weights_digest(v.generator),
        "vocoder_id": weights_digest(v.vocoder),
    }
    if v.override_generator is not None:  # an export without it is refused: export again
        identity["dit_voice_id"] = weights_digest(v.override_generator)
    return identity


def make_stages(
    models: DubModels, backend: str = "torch", device: str | None = None, threads: int = 0
) -> Stages:
    """The stages on the chosen backend; ONNX reads `CHECKPOINT/onnx` (made by export-onnx)."""
    if backend not in BACKENDS:
        raise UsageError(f"backend '{backend}' is not one of {', '.join(BACKENDS)}")
    if backend == "torch":
        if threads > 0:
            import torch

            torch.set_num_threads(threads)
        s = models.semantic
        v = models.voice
        return torch_stages(
            s.aligner, s.detector, s.refiner, v.generator, v.codec, v.vocoder, v.override_generator
        )
    folder = models.folder / "onnx"
    if not (folder / "onnx.json").exists():
        raise UsageError(
            f"no ONNX export in {folder}: run `imagintalk export-onnx --checkpoint "
            f"{models.folder}` first, or use --backend torch"
        )
    from imagintalk_plugin.runtime.onnx_backend import onnx_stages

    wanted = "cuda" if pick_device(device).type == "cuda" else "cpu"
    return onnx_stages(folder, wanted, threads, expected_source=source_identity(models))
