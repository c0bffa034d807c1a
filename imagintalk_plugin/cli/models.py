"""`imagintalk export-onnx` and `imagintalk ship`: what to do with a trained model."""

from __future__ import annotations

import argparse
from pathlib import Path

from imagintalk_plugin.cli.generation import checkpoint_of, checkpoint_option


def register(commands: argparse._SubParsersAction) -> None:
    """`export-onnx` and `ship`."""
    export = commands.add_parser(
        "export-onnx", help="export every stage of a checkpoint to ONNX for --backend onnx"
    )
    checkpoint_option(export)
    export.add_argument("--out", type=Path, help="output folder (default: CHECKPOINT/onnx)")
    export.add_argument("--force", action="store_true", help="replace an existing export")
    export.set_defaults(handler=run_export)

    ship = commands.add_parser(
        "ship",
        help="turn a training run folder into a compact model folder for --checkpoint",
        description="Copy each stage's model of the run (no trainer state or fold models) with "
        "float16 weights, recompute the digests that tie the stages together, and check that "
        "the result loads.",
    )
    ship.add_argument("run", type=Path, help="the run folder `imagintalk train --out` wrote")
    ship.add_argument("--out", type=Path, required=True, metavar="MODEL", help="model folder")
    ship.add_argument(
        "--force", action="store_true", help="update an existing model folder (its card stays)"
    )
    ship.set_defaults(handler=run_ship)


def export_checkpoint(folder: Path, out: Path | None, force: bool) -> str:
    """Every stage of the model in `folder` to ONNX in `out` (default FOLDER/onnx)."""
    from imagintalk_plugin.pipeline.dub_models import load_dub_models, source_identity
    from imagintalk_plugin.runtime.onnx_export import export_onnx
    from imagintalk_plugin.runtime.stages import stage_modules

    models = load_dub_models(folder, "cpu")
    s, v = models.semantic, models.voice
    modules = stage_modules(
        s.aligner, s.detector, s.refiner, v.generator, v.codec, v.vocoder, v.override_generator
    )
    out = out or folder / "onnx"
    written = export_onnx(modules, out, source=source_identity(models), force=force)
    return f"wrote {len(written)} file(s) to {out}"


def run_export(args: argparse.Namespace) -> int:
    """Export the checkpoint for `--backend onnx`."""
    print(export_checkpoint(checkpoint_of(args), args.out, args.force))
    return 0


def run_ship(args: argparse.Namespace) -> int:
    """Ship the run as a model folder."""
    from imagintalk_plugin.training.shipping import ship_run

    print(ship_run(args.run, args.out, args.force))
    return 0
