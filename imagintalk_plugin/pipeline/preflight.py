"""Checks made before any generation starts, so bad input fails in seconds, once, with one
line (exit 2) and nothing written: the output file's folder, the range asked for, the
delivery rate."""

from __future__ import annotations

import argparse
from pathlib import Path

from imagintalk_plugin.core.errors import OutputExistsError, UsageError


def delivery_rate(args: argparse.Namespace) -> int | None:
    """--sample-rate as a rate in Hz (None: the model's own)."""
    from imagintalk_plugin.timeline.delivery import parse_rate

    try:
        return parse_rate(args.sample_rate)
    except ValueError as err:
        raise UsageError(f"--sample-rate: {err}") from err


def check_output_file(output: Path, force: bool) -> None:
    """An output file that can be written: not an existing file (without `force`), not a
    folder, in a folder that exists and takes files. Checked before any work."""
    from imagintalk_plugin.core.files import check_writable_folder

    if output.is_dir():
        raise UsageError(f"output '{output}' is a folder; name a file")
    if output.exists() and not force:
        raise OutputExistsError(output)
    why = check_writable_folder(output.parent)
    if why is not None:
        raise UsageError(f"cannot write '{output}': {why}")


def check_range(video: Path, start: float, end: float | None, duration: float | None) -> None:
    """--start / --end inside the video: one line before any work, not an empty take."""
    if start < 0:
        raise UsageError(f"--start must not be negative, not {start:g} s")
    if end is not None and end <= start:
        raise UsageError(f"--end ({end:g} s) must come after --start ({start:g} s)")
    if duration is None:
        return
    if start >= duration:
        raise UsageError(f"--start ({start:g} s) is past the end of '{video}' ({duration:.2f} s)")
    if end is not None and end > duration + 1e-3:
        raise UsageError(f"--end ({end:g} s) is past the end of '{video}' ({duration:.2f} s)")
