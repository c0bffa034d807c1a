"""`imagintalk prepare VIDEO` and `imagintalk cache info|clear`: the face and lip front-end."""

from __future__ import annotations

import argparse
from pathlib import Path

from imagintalk_plugin.cli.options import run_job


def register(commands: argparse._SubParsersAction) -> None:
    """`prepare` and `cache`."""
    prepare = commands.add_parser(
        "prepare", help="track the face in a video and write its lip track and a contact sheet"
    )
    prepare.add_argument("video", type=Path, help="any video FFmpeg reads (mp4 mov mxf mpg mkv)")
    prepare.add_argument("--start", metavar="TC", help="seconds, M:SS.s or HH:MM:SS:FF")
    prepare.add_argument("--end", metavar="TC", help="seconds, M:SS.s or HH:MM:SS:FF")
    prepare.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    prepare.add_argument(
        "--face", type=int, metavar="N", help="use the N-th face from the left (default: speaker)"
    )
    prepare.add_argument("--no-cache", action="store_true", help="ignore and skip the cache")
    prepare.add_argument(
        "--best-effort", action="store_true", help="no face: write an all-invalid track"
    )
    prepare.add_argument("--force", action="store_true", help="overwrite existing outputs")
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    prepare.set_defaults(handler=run_prepare)

    cache = commands.add_parser("cache", help="show or clear the prepared-clip cache")
    cache.add_argument("action", choices=["info", "clear"])
    cache.set_defaults(handler=run_cache)


def run_prepare(args: argparse.Namespace) -> int:
    """Write the video range's lip track and contact sheet into --out."""
    from imagintalk_plugin.frontend.lip_track_builder import FrontendParams
    from imagintalk_plugin.frontend.prepare_files import prepare_video

    job = prepare_video(
        args.video,
        args.out,
        start=args.start,
        end=args.end,
        params=FrontendParams(face=args.face),
        use_cache=not args.no_cache,
        best_effort=args.best_effort,
        force=args.force,
    )
    print(run_job(job, args.quiet).summary())
    return 0


def run_cache(args: argparse.Namespace) -> int:
    """Say what the lip-track cache holds, or empty it."""
    from imagintalk_plugin.frontend.cache import LipTrackCache

    cache = LipTrackCache()
    if args.action == "clear":
        print(f"removed {cache.clear()} cached lip track(s) from {cache.root}")
    else:
        entries = cache.entries()
        size_mb = cache.size_bytes() / 1e6
        print(f"{cache.root}: {len(entries)} lip track(s), {size_mb:.1f} MB")
    return 0
