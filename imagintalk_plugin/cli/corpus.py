"""`imagintalk corpus import SRC --layout grid|lrs3|folder --out DIR` from the command line.

Only argparse and the standard library are imported until the command runs, so registering
it keeps `imagintalk --help` light. The first Ctrl-C stops at the next step: whole files only
are left behind, and running the same command again continues from there.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from imagintalk_plugin.cli.options import positive_int, run_job
from imagintalk_plugin.core.errors import UsageError

_LAYOUTS = ("grid", "lrs3", "folder")
_SPLITS = ("auto", "speaker", "clip", "train", "valid", "test")


def _size(text: str) -> float:
    """A clip count (`100`) or a share of the clips (`0.1`)."""
    try:
        value = float(text) if "." in text else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a count or a share: '{text}'") from None
    if value < 0 or ("." in text and value >= 1):
        raise argparse.ArgumentTypeError(f"want a count >= 0 or a share below 1: '{text}'")
    return value


def register(commands: argparse._SubParsersAction) -> None:
    """`corpus import`."""
    corpus = commands.add_parser("corpus", help="import a real audio-visual corpus to train on")
    actions = corpus.add_subparsers(dest="corpus_command", metavar="ACTION")
    parser = actions.add_parser(
        "import",
        help="turn GRID, LRS3/LRS2 or a folder of videos into a training manifest",
        description="Write DIR/manifest.jsonl (what `imagintalk train --data` reads), the "
        "clips' audio as 16 kHz WAVs and DIR/import_report.json (what was skipped and why); "
        "videos stay where they are. Run it again to continue an interrupted import.",
    )
    parser.add_argument("src", type=Path, metavar="SRC", help="the corpus folder")
    parser.add_argument("--layout", choices=_LAYOUTS, required=True, help="how SRC is laid out")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--speaker", metavar="NAME", help="every clip's speaker")
    parser.add_argument(
        "--speaker-map",
        type=Path,
        metavar="FILE",
        help="'CLIP SPEAKER' lines (clip name or id): speakers of a folder that mixes them",
    )
    parser.add_argument(
        "--allow-untranscribed",
        action="store_true",
        help="keep clips without a transcript file (VoxCeleb2): training needs only sound and "
        "lips, the WER judge needs text",
    )
    parser.add_argument(
        "--split",
        choices=_SPLITS,
        default="auto",
        help="by speaker (several speakers), by clip (one), or every clip to one split",
    )
    parser.add_argument(
        "--test-clips",
        type=_size,
        default=100,
        metavar="N",
        help="split by clip: N test clips, or a share such as 0.1 (default 100)",
    )
    parser.add_argument(
        "--valid-clips", type=_size, default=60, metavar="N", help="likewise (default 60)"
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="split seed (default 0)")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="only the first N clips")
    parser.add_argument("--jobs", type=int, default=0, metavar="J", help="front-end workers")
    parser.add_argument(
        "--no-frontend",
        action="store_true",
        help="skip the front-end pass (training runs it; no-face clips are then not found)",
    )
    parser.add_argument("--copy-video", action="store_true", help="copy the videos into DIR/video/")
    again = parser.add_mutually_exclusive_group()
    again.add_argument(
        "--resume", action="store_true", help="redo a finished import, keeping its audio"
    )
    again.add_argument("--force", action="store_true", help="redo it, extracting audio again")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    corpus.set_defaults(handler=run_corpus_command)


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def run_corpus_command(args: argparse.Namespace) -> int:
    """Run `corpus import` and print its summary line."""
    from imagintalk_plugin.corpora.importer import ImportSettings, import_corpus
    from imagintalk_plugin.corpora.splits import SplitPlan

    if args.corpus_command != "import":
        raise UsageError("say what to do: imagintalk corpus import SRC --layout ... --out DIR")
    settings = ImportSettings(
        src=args.src,
        layout=args.layout,
        out=args.out,
        speaker=args.speaker,
        speaker_map=args.speaker_map,
        allow_untranscribed=args.allow_untranscribed,
        split=SplitPlan(args.split, args.seed, args.test_clips, args.valid_clips),
        limit=args.limit,
        jobs=args.jobs,
        frontend=not args.no_frontend,
        copy_video=args.copy_video,
        force=args.force,
        resume=args.resume,
    )
    started = time.monotonic()
    report = run_job(import_corpus(settings), args.quiet)
    print(f"{report.summary()} in {_elapsed(time.monotonic() - started)}")
    return 0
