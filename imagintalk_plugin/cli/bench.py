"""`imagintalk bench`: time every stage on a 3 s and a 30 s clip, torch and onnx side by side."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from imagintalk_plugin.cli.generation import checkpoint_of, checkpoint_option
from imagintalk_plugin.core.errors import UsageError


def register(commands: argparse._SubParsersAction) -> None:
    """`bench`."""
    bench = commands.add_parser(
        "bench", help="time every stage on a 3 s and a 30 s clip, torch and onnx side by side"
    )
    checkpoint_option(bench)
    bench.add_argument("--video", type=Path, help="a video with a face (default: the demo's)")
    bench.add_argument(
        "--backends", nargs="+", choices=["torch", "onnx"], default=["torch", "onnx"]
    )
    bench.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    bench.add_argument("--repeats", type=int, default=3, help="timed runs per clip (median)")
    bench.add_argument("--threads", type=int, default=0, help="CPU threads (0: default)")
    bench.add_argument("--json", type=Path, help="also write the figures as JSON here")
    bench.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    """Print the figures table (and write JSON with --json); 1 if a backend failed."""
    from imagintalk_plugin.cli.models import export_checkpoint
    from imagintalk_plugin.core.paths import demo_videos
    from imagintalk_plugin.evaluation.bench import (
        BenchRequest,
        format_report,
        measure,
        time_frontend,
    )
    from imagintalk_plugin.frontend.lip_track_io import save_lip_track

    folder = checkpoint_of(args)
    video = args.video or demo_videos()[0]
    if not Path(video).is_file():
        raise UsageError(f"video '{video}' does not exist")
    if args.repeats < 1:
        raise UsageError("--repeats must be at least 1")
    notes = ""
    if "onnx" in args.backends and not (folder / "onnx" / "onnx.json").exists():
        notes = f"(exported first: {export_checkpoint(folder, None, False)})\n"
    frontend = time_frontend(Path(video), args.repeats)
    track = frontend.track
    if not track.valid.any():
        raise UsageError(f"no face found in '{video}'; bench needs a video of a face")
    with tempfile.TemporaryDirectory() as tmp:
        track_path = Path(tmp) / "bench.liptrack.npz"
        save_lip_track(track, track_path)
        request = BenchRequest(
            folder, track_path, tuple(args.backends), args.repeats, args.threads, args.device
        )
        results = measure(request)
    if args.json:
        figures = {
            "frontend": {"load_s": frontend.load_s, "seconds": frontend.seconds},
            "backends": results,
        }
        args.json.write_text(json.dumps(figures, indent=2))
    print(notes + format_report(results, frontend))
    return 1 if any("error" in r for r in results) else 0
