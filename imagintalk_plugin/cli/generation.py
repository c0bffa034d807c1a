"""The model, device and style options that `dub`, `speak` and `voice-corpus` share, and the
speech settings and models they turn into."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import Job
from imagintalk_plugin.pipeline.timbre_options import Timbre
from imagintalk_plugin.pipeline.voice_overrides_io import FACE_SAMPLE_S

DEFAULT_BATCH_SIZE = 8  # 1.13x the throughput of one at a time on 2 CPU cores (bench)


def checkpoint_option(parser: argparse.ArgumentParser) -> None:
    """--checkpoint DIR (default: the shipped demo model)."""
    parser.add_argument(
        "--checkpoint", type=Path, metavar="DIR", help="model folder (default: the demo model)"
    )


def generation_options(parser: argparse.ArgumentParser) -> None:
    """Model, device and style options shared by `speak`, `dub` and `voice-corpus`."""
    checkpoint_option(parser)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: default)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"clips (and windows of long clips) generated together (default {DEFAULT_BATCH_SIZE}"
        "; 1 = one at a time, less memory)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--steps", type=int, default=16, help="diffusion steps (default 16)")
    parser.add_argument("--guidance", type=float, default=2.0, help="guidance scale (2.0)")
    parser.add_argument(
        "--threshold", type=float, help="error-detector flag threshold (default: calibrated)"
    )
    parser.add_argument(
        "--emotion", choices=["neutral", "happy", "sad", "angry", "surprised"], help="override"
    )
    parser.add_argument("--pitch", type=float, default=0.0, help="pitch offset in semitones")
    parser.add_argument("--speed", type=float, default=1.0, help="speaking speed factor")
    timbre = parser.add_mutually_exclusive_group()
    timbre.add_argument(
        "--voice",
        type=Path,
        metavar="WAV",
        help="timbre from this reference recording instead of the clip's face",
    )
    timbre.add_argument(
        "--face",
        type=Path,
        metavar="VIDEO",
        help=f"timbre from the face in this video (its first {FACE_SAMPLE_S:g} s) instead",
    )
    parser.add_argument(
        "--sample-rate",
        default="48000",
        metavar="HZ",
        help="rate of the written audio: 48000 (default, 24-bit BWF), 44100, 96000, ... or "
        "'model' for the model's own 16 kHz",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def speech_settings(args: argparse.Namespace, timbre: Timbre | None = None) -> Any:
    """SpeechSettings from the generation options (and the --voice / --face timbre)."""
    from imagintalk_plugin.pipeline import clip_job

    timbre = timbre or Timbre()
    return clip_job.speech_settings(
        steps=args.steps,
        guidance=args.guidance,
        threshold=args.threshold,
        emotion=args.emotion,
        pitch=args.pitch,
        speed=args.speed,
        seed=args.seed,
        face=timbre.face,
        reference_voice=timbre.reference_voice,
        timbre=timbre.record,
    )


def check_generation_options(args: argparse.Namespace) -> None:
    """Bad style options and unusable --voice / --face files: usage errors before any work."""
    from imagintalk_plugin.pipeline.timbre_options import check_timbre

    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, not {args.batch_size}")
    speech_settings(args)
    check_timbre(args.voice, args.face)


def settings_job(args: argparse.Namespace) -> Job[Any]:
    """Job: SpeechSettings with the --voice / --face timbre resolved (front-end for --face)."""
    from imagintalk_plugin.pipeline.timbre_options import timbre_job

    return speech_settings(args, (yield from timbre_job(args.voice, args.face)))


def checkpoint_of(args: argparse.Namespace) -> Path:
    """--checkpoint, or the shipped demo model (a usage error if it is not a model)."""
    from imagintalk_plugin.core.paths import default_checkpoint
    from imagintalk_plugin.pipeline.dub_models import check_checkpoint

    folder = args.checkpoint or default_checkpoint()
    check_checkpoint(folder)
    return folder


def model_loader(args: argparse.Namespace) -> Callable[[], tuple[Any, Any]]:
    """Loads the checkpoint and its stages on first call (so bad input fails before)."""

    def load() -> tuple[Any, Any]:
        from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages

        device = None if args.device == "auto" else args.device
        models = load_dub_models(checkpoint_of(args), device)
        return models, make_stages(models, args.backend, device, args.threads)

    return load
