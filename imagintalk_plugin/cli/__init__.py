"""The `imagintalk` command: one module per command group, each registering its sub-commands.

Sub-commands import what they need when they run, so `imagintalk --help` and
`imagintalk timeline inspect` never load torch, transformers or Qt. User errors print one line
(`imagintalk: error: ...`) and exit with the error's status (2 for bad input); anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from imagintalk_plugin import __version__
from imagintalk_plugin.cli import (
    bench,
    corpus,
    dub,
    evaluate,
    hosts,
    models,
    prepare,
    synth,
    timeline,
    train,
    voices,
)
from imagintalk_plugin.core.errors import CancelledError, ImagintalkError

# the order `imagintalk --help` lists them in
GROUPS = (timeline, prepare, evaluate, synth, corpus, train, dub, voices, models, bench, hosts)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="imagintalk",
        description="Generate dialogue for silent takes from lips and faces, placed on your "
        "timeline.",
    )
    parser.add_argument("--version", action="version", version=f"imagintalk {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:  # no command, or a group without its action (`imagintalk timeline`)
        parser.print_help()
        return 2 if args.command else 0
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print("imagintalk: cancelled", file=sys.stderr)
        return CancelledError.exit_code
    except ImagintalkError as err:
        print(f"imagintalk: error: {err}", file=sys.stderr)
        return err.exit_code
