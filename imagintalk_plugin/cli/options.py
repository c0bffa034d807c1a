"""What several command groups share: argument types, timeline-source options, running a job."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.progress import Job, drive, interruptible


def positive_rate(text: str) -> float:
    """A frame rate argument: `23.976`, `25` or `30000/1001`."""
    try:
        value = (
            float(text.split("/")[0]) / float(text.split("/")[1]) if "/" in text else float(text)
        )
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a frame rate: '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"frame rate must be positive: '{text}'")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: '{text}'")
    return value


def timeline_source_options(parser: argparse.ArgumentParser) -> None:
    """--rate, --timeline and --media-dir: how to read a timeline file and find its media."""
    parser.add_argument(
        "--rate",
        type=positive_rate,
        help="frame rate for formats that do not state one (EDL), e.g. 23.976 or 30000/1001",
    )
    parser.add_argument(
        "--timeline",
        dest="timeline_index",
        type=int,
        default=0,
        metavar="N",
        help="which timeline of a file holding several (0 = first)",
    )
    parser.add_argument(
        "--media-dir",
        dest="media_dirs",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="relink offline clips to media found under DIR (recursively; repeatable): by file "
        "name, reel or source timecode",
    )


def run_job(job: Job[Any], quiet: bool, *, bars: bool = True) -> Any:
    """Drive a job with progress bars on stderr; the first Ctrl-C cancels at the next step
    (files are only ever renamed into place, so nothing half-written stays), a second stops."""
    from imagintalk_plugin.cli.progress_bar import ProgressBars

    with interruptible() as cancel, ProgressBars(enabled=bars and not quiet) as progress:
        return drive(job, progress, cancel)
