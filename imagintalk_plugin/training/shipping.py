"""`imagintalk ship RUN --out MODEL`: a trained run folder as a compact inference checkpoint.

Copies each stage's model (no trainer state, optimiser moments, fold models or out-of-fold
predictions) with its floating-point weights stored as float16, which halves the size (the
modules compute in float32; loading casts). Rounding changes the weights' digests, so the
identities that tie stages together (the codec's id in the vocoder and DiT metadata, the
aligner's digest in the DiT's) are recomputed from the rounded weights. Metrics and the
refiner's calibration are copied as they are; when the calibration chose the refiner's pretrained
LM over its fine-tuning, the LM's weights ship as `refiner/`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from imagintalk_plugin.core.errors import OutputExistsError, UsageError
from imagintalk_plugin.nn.checkpoint import read_model_document, save_model
from imagintalk_plugin.nn.codec import CODEC_KIND
from imagintalk_plugin.nn.error_detector import DETECTOR_KIND
from imagintalk_plugin.nn.lip_aligner import ALIGNER_KIND
from imagintalk_plugin.nn.refiner import REFINER_KIND
from imagintalk_plugin.nn.speech_generator import DIT_KIND
from imagintalk_plugin.nn.vocoder import VOCODER_KIND
from imagintalk_plugin.pipeline.acoustic_models import codec_identity, load_codec, weights_digest
from imagintalk_plugin.pipeline.dub_models import PARTS, load_dub_models
from imagintalk_plugin.pipeline.semantic_models import chosen_refiner

KINDS = {
    "aligner": ALIGNER_KIND,
    "detector": DETECTOR_KIND,
    "refiner": REFINER_KIND,
    "codec": CODEC_KIND,
    "vocoder": VOCODER_KIND,
    "dit": DIT_KIND,
    "dit_voice": DIT_KIND,  # the Style-DiT for identity overrides, when the run has one
}


def _half(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """float32 weights rounded to float16 (others as they are); the module gets the rounding."""
    out = {}
    for name, tensor in module.state_dict().items():
        out[name] = tensor.half() if tensor.dtype == torch.float32 else tensor
    module.load_state_dict(out, strict=True)  # the module now holds exactly what ships
    return out


def ship_run(run: Path, dest: Path, force: bool = False) -> str:
    """Write RUN's models into DEST as a shipped checkpoint; returns the line to print.

    An existing DEST is only updated with `force` (its model card and other files stay)."""
    if not run.is_dir():
        raise UsageError(f"run folder '{run}' does not exist")
    if dest.exists() and not force:
        raise OutputExistsError(dest)
    models = load_dub_models(run, "cpu")
    s, v = models.semantic, models.voice
    modules = {
        "aligner": s.aligner,
        "detector": s.detector,
        "refiner": s.refiner,
        "codec": v.codec,
        "vocoder": v.vocoder,
        "dit": v.generator,
    }
    if v.override_generator is not None:
        modules["dit_voice"] = v.override_generator
    weights = {name: _half(module) for name, module in modules.items()}
    codec_id = codec_identity(v.codec)
    aligner_id = weights_digest(s.aligner)
    if dest.exists():
        shutil.rmtree(dest / "onnx", ignore_errors=True)
        if "dit_voice" not in modules:  # a previous shipment's, not this run's
            shutil.rmtree(dest / "dit_voice", ignore_errors=True)
    shutil.copytree(run / "units", dest / "units", dirs_exist_ok=True)
    if (run / "line" / "config.json").is_file():  # the line table for known lines (ADR)
        shutil.copytree(run / "line", dest / "line", dirs_exist_ok=True)
        (dest / "line" / "metrics.json").unlink(missing_ok=True)
    chosen = {"refiner": chosen_refiner(run)}  # the fine-tuned refiner or its LM
    for name, module in modules.items():
        meta = read_model_document(run / chosen.get(name, name), KINDS[name])["meta"]
        meta["weights_dtype"] = "float16"
        if "codec_id" in meta:
            meta["codec_id"] = codec_id
        if name in ("dit", "dit_voice"):
            meta["aligner_id"] = aligner_id
        save_model(dest / name, KINDS[name], module.config, weights[name], meta)
        (dest / name / "metrics.json").unlink(missing_ok=True)
        for source, extra in ((chosen.get(name, name), "metrics.json"), (name, "calibration.json")):
            if (run / source / extra).exists():
                shutil.copyfile(run / source / extra, dest / name / extra)
    calibration = dest / "refiner" / "calibration.json"
    if calibration.exists():  # the chosen weights now live in refiner/
        data = json.loads(calibration.read_text(encoding="utf-8"))
        data["model"] = "refiner"
        calibration.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for extra in ("metrics.json", "voice_metrics.json"):
        if (run / extra).exists():
            shutil.copyfile(run / extra, dest / extra)
    shipped = load_dub_models(dest, "cpu")  # refuses any broken tie
    complete = all((dest / part / "model.safetensors").is_file() for part in PARTS)
    if not (
        complete
        and shipped.voice.codec_id == codec_id
        and load_codec(dest, "cpu")[1] == codec_id
        and (shipped.voice.override is None) == ("dit_voice" not in modules)
    ):
        raise RuntimeError(f"{dest} does not hold what {run} shipped; ship it again")
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    return f"shipped {run} as {dest}: {size / 1e6:.1f} MB"
