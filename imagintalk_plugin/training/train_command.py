"""`imagintalk train ...`: runs one stage with a progress bar, Ctrl-C as a clean stop."""

from __future__ import annotations

import argparse
import json
from typing import Any

from imagintalk_plugin.core.progress import drive, interruptible


def run_train_command(args: argparse.Namespace) -> str:
    """Run `imagintalk train` from parsed arguments; the metrics report to print ('' off rank 0)."""
    from imagintalk_plugin.progress_bar import ProgressBars
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
    return format_metrics(args.stage, metrics) if ctx.is_main else ""


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
