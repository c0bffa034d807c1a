"""`imagintalk timeline inspect|place`: read a timeline, and put audio files under its clips."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from imagintalk_plugin.cli.options import timeline_source_options
from imagintalk_plugin.core.errors import UsageError


def register(commands: argparse._SubParsersAction) -> None:
    """`timeline inspect` and `timeline place`."""
    timeline = commands.add_parser("timeline", help="read timelines and place audio on them")
    actions = timeline.add_subparsers(dest="timeline_command", metavar="ACTION")

    inspect = actions.add_parser("inspect", help="list a timeline's dubbable clips")
    inspect.add_argument("file", type=Path, help="timeline: .otio .otioz .edl .xml .fcpxml .aaf")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    timeline_source_options(inspect)
    inspect.set_defaults(handler=run_inspect)

    place = actions.add_parser(
        "place", help="place audio files under clips, writing a new timeline"
    )
    place.add_argument("file", type=Path, help="the timeline the clips come from (never changed)")
    place.add_argument(
        "--audio",
        action="append",
        default=[],
        metavar="CLIP_ID=WAV",
        required=True,
        help="audio for one clip (repeatable); clip ids as `timeline inspect` lists them",
    )
    place.add_argument("-o", "--output", type=Path, required=True, help=".otio .xml .edl .aaf")
    place.add_argument("--force", action="store_true", help="overwrite existing outputs")
    timeline_source_options(place)
    place.set_defaults(handler=run_place)


def run_inspect(args: argparse.Namespace) -> int:
    """Print the timeline's dubbable clips as a table (or JSON)."""
    from imagintalk_plugin.timeline.clips import list_clips
    from imagintalk_plugin.timeline.reading import read_timeline
    from imagintalk_plugin.timeline.report import format_table, inspect_report

    loaded = read_timeline(args.file, rate=args.rate, timeline_index=args.timeline_index)
    relinked = None
    if args.media_dirs:
        from imagintalk_plugin.timeline.relink import relink_timeline

        loaded, relinked = relink_timeline(loaded, args.media_dirs)
    report = inspect_report(loaded, list_clips(loaded), relinked)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(format_table(report))
    return 0


def parse_audio_pairs(pairs: list[str]) -> dict[str, Path]:
    """`CLIP_ID=WAV` arguments as a clip id -> file mapping (each clip once)."""
    audio: dict[str, Path] = {}
    for pair in pairs:
        clip_id, sep, wav = pair.partition("=")
        if not sep or not clip_id or not wav:
            raise UsageError(f"--audio wants CLIP_ID=WAV, got '{pair}'")
        if clip_id in audio:
            raise UsageError(f"clip '{clip_id}' given twice in --audio")
        audio[clip_id] = Path(wav)
    return audio


def run_place(args: argparse.Namespace) -> int:
    """Write a new timeline with the given WAVs under their clips."""
    from imagintalk_plugin.timeline.place_files import place_audio_files

    summary = place_audio_files(
        args.file,
        parse_audio_pairs(args.audio),
        args.output,
        force=args.force,
        rate=args.rate,
        timeline_index=args.timeline_index,
        media_dirs=args.media_dirs,
    )
    print(summary)
    return 0
