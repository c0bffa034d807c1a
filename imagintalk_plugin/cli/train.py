"""`imagintalk train STAGE`: runs one stage with a progress bar, Ctrl-C as a clean stop."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import drive, interruptible


def data_source(text: str) -> object:
    """`train --data PATH[:WEIGHT]` -> a `DataSource` (argparse reports a bad weight)."""
    from imagintalk_plugin.training.training_data import parse_data_source

    try:
        return parse_data_source(text)
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def register(commands: argparse._SubParsersAction) -> None:
    """`train STAGE`."""
    train = commands.add_parser(
        "train",
        help="train stage by stage: semantic (units, line, aligner, detector, refiner), "
        "acoustic (codec, vocoder, dit, dit-voice)",
        description="Train one stage into the run folder --out; later stages find earlier "
        "ones there. Ctrl-C stops after the current step and keeps a checkpoint for --resume. "
        "Multi-GPU / multi-node: launch with `torchrun ... -m imagintalk_plugin train ...`.",
    )
    train.add_argument(
        "stage",
        choices=[
            *("units", "line", "aligner", "detector", "refiner", "evaluate"),
            *("codec", "vocoder", "dit", "dit-voice", "evaluate-voice"),
        ],
    )
    train.add_argument("--preset", default="demo", help="tiny | demo | paper (default demo)")
    train.add_argument(
        "--data",
        type=data_source,
        action="append",
        required=True,
        metavar="MANIFEST[:WEIGHT]",
        help="manifest.jsonl; repeat to train on several corpora together, each training clip "
        "seen WEIGHT times per epoch (default 1)",
    )
    train.add_argument("--out", type=Path, required=True, metavar="RUN", help="run folder")
    train.add_argument("--resume", action="store_true", help="continue an interrupted stage")
    train.add_argument("--force", action="store_true", help="retrain a stage that exists")
    train.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    train.add_argument("--jobs", type=int, default=0, metavar="J", help="front-end workers")
    train.add_argument("--limit", type=int, metavar="N", help="use the first N utterances")
    train.add_argument(
        "--hubert",
        type=Path,
        metavar="DIR",
        help="units: a local HuBERT checkpoint folder (layer-6 k-means) instead of MFCCs",
    )
    train.add_argument(
        "--phonetic",
        action="store_true",
        help="units: cluster a phone classifier's features, learnt from the corpus's timed "
        "phonemes (ImaginTalk-Synth), instead of raw MFCCs",
    )
    train.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="aligner/detector/codec/vocoder/dit/dit-voice: train N steps instead of the "
        "preset's; "
        "with --resume, extends a finished stage",
    )
    train.add_argument(
        "--voice-bank",
        type=int,
        metavar="N",
        help="dit, dit-voice: add N speakers without video (8 utterances each) and take every "
        "training clip's units from their voices (default: none for dit, the preset's for "
        "dit-voice; see synth/voice_bank.py)",
    )
    train.add_argument(
        "--lip-drop",
        type=float,
        metavar="P",
        help="dit, dit-voice: train a share P of the items with their lip features zeroed, so "
        "the identity (face, or a reference voice) carries the voice (default: 0 for dit, the "
        "preset's for dit-voice)",
    )
    train.add_argument(
        "--init",
        type=Path,
        metavar="MODEL",
        help="codec, vocoder: start from MODEL/codec or MODEL/vocoder (a shipped model or a "
        "run) and fine-tune on --data",
    )
    train.add_argument(
        "--lip-input",
        choices=["pixels", "shape", "both"],
        help="aligner: read the mouth crops (the preset's default), the lip shape (landmark "
        "geometry) or both; later stages follow the trained aligner",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=run_train_command)


def run_train_command(args: argparse.Namespace) -> int:
    """Run `imagintalk train` and print the metrics report (on rank 0 only)."""
    from imagintalk_plugin.cli.progress_bar import ProgressBars
    from imagintalk_plugin.training.loops.distributed import setup_distributed, teardown_distributed
    from imagintalk_plugin.training.request import TrainRequest
    from imagintalk_plugin.training.semantic_training import run_training

    request = TrainRequest(
        stage=args.stage,
        preset=args.preset,
        data=tuple(args.data),
        out=args.out,
        resume=args.resume,
        force=args.force,
        jobs=args.jobs,
        limit=args.limit,
        hubert=args.hubert,
        phonetic=args.phonetic,
        steps=args.steps,
        voice_bank=args.voice_bank,
        lip_drop=args.lip_drop,
        init=args.init,
        lip_input=args.lip_input,
    )
    ctx = setup_distributed(None if args.device == "auto" else args.device)
    try:
        with (
            interruptible() as cancel,
            ProgressBars(enabled=not args.quiet and ctx.is_main) as bars,
        ):
            metrics = drive(run_training(request, ctx), bars, cancel)
    finally:
        teardown_distributed()
    if ctx.is_main:
        print(format_metrics(args.stage, metrics))
    return 0


def format_metrics(stage: str, metrics: dict[str, Any]) -> str:
    """The numbers worth reading after a stage, one per line."""
    lines = [f"{stage}: done"]
    history = metrics.get("history") or []
    if history:
        last = history[-1]
        lines += [
            f"  {k}: {_fmt(v)}" for k, v in last.items() if k.startswith("valid_") or k == "loss"
        ]
    for key in ("units_used", "unit_perplexity"):
        if key in metrics:
            lines.append(f"  {key}: {_fmt(metrics[key])}")
    for key, value in (metrics.get("test") or {}).items():
        lines.append(f"  {key}: {_fmt(value)}")
    for split, scores in (metrics.get("summary") or {}).items():
        if not isinstance(scores, dict):  # a run-wide fact, such as the chosen refiner
            lines.append(f"  {split}: {_fmt(scores)}")
            continue
        lines.append(
            f"  [{split}] "
            + json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()})
        )
    if metrics.get("voice"):
        from imagintalk_plugin.training.voice_evaluation import voice_lines

        lines += voice_lines(metrics["voice"])
    if metrics.get("skipped_clips"):
        lines.append(
            f"  skipped {len(metrics['skipped_clips'])} clips, e.g. {metrics['skipped_clips'][0]}"
        )
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
