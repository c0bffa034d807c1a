"""`imagintalk dub`, `imagintalk speak` and `imagintalk panel`: the main job, one video, the panel.

The first Ctrl-C cancels at the next stage boundary (files are only ever renamed into place,
so nothing half-written stays); a second one stops at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from imagintalk_plugin.cli.generation import (
    check_generation_options,
    checkpoint_of,
    generation_options,
    model_loader,
    settings_job,
)
from imagintalk_plugin.cli.options import run_job
from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import Job
from imagintalk_plugin.pipeline.preflight import check_output_file, check_range, delivery_rate


def register(commands: argparse._SubParsersAction) -> None:
    """`dub`, `speak` and `panel`."""
    dub = commands.add_parser(
        "dub",
        help="give every dubbable clip of a timeline dialogue (the main job)",
        description="Generate speech for the timeline's clips from their lips and faces and "
        "write a new timeline with the takes on `ImaginTalk Dialogue` tracks (BWF files in "
        "<output stem>_dialogue/). A rerun resumes from the clips already done.",
    )
    dub.add_argument(
        "timeline",
        type=Path,
        nargs="?",
        help="timeline file (.otio, .xml, .edl, ...); default: the shipped demo scene",
    )
    dub.add_argument(
        "-o", "--output", type=Path, help="new timeline file (default: ./<name>_dubbed.otio)"
    )
    dub.add_argument("--clips", nargs="+", metavar="ID", help="only these clip ids")
    dub.add_argument("--takes", type=int, default=1, help="takes per clip (seeds seed..)")
    dub.add_argument(
        "--media-dir",
        type=Path,
        action="append",
        metavar="DIR",
        help="relink offline clips to media found in DIR (by file name, reel, source "
        "timecode); may be given more than once",
    )
    dub.add_argument(
        "--force",
        action="store_true",
        help="make fresh takes instead of reusing finished ones, and replace an output file "
        "that an earlier dub did not write",
    )
    dub.add_argument(
        "--cues",
        type=Path,
        metavar="CSV",
        help="ADR cue sheet: each clip's line and character (columns in docs/dubbing.md)",
    )
    dub.add_argument(
        "--cast",
        action="append",
        metavar="CHARACTER=VOICE",
        help="one voice for every clip of CHARACTER: face:CLIP_ID, voice:WAV, bank:NAME (the "
        "model's voice bank) or own (each clip's face); repeatable; wins over the cue sheet's "
        "and the saved cast",
    )
    generation_options(dub)
    dub.set_defaults(handler=run_dub)

    speak = commands.add_parser("speak", help="generate speech for one video file or range")
    speak.add_argument("video", type=Path)
    speak.add_argument("--start", help="start (seconds, M:SS or source timecode)")
    speak.add_argument("--end", help="end (seconds, M:SS or source timecode)")
    speak.add_argument("-o", "--output", type=Path, required=True, help="output WAV")
    speak.add_argument("--force", action="store_true", help="overwrite an existing output WAV")
    speak.add_argument(
        "--line",
        metavar="TEXT",
        help="ADR: say this line (the script's words) in sync with the lips, instead of the "
        "words read from the lips",
    )
    generation_options(speak)
    speak.set_defaults(handler=run_speak)

    panel = commands.add_parser(
        "panel",
        help="open the ImaginTalk panel: run, inspect, tweak and place dialogue clip by clip",
        description="A window listing the timeline's clips: run them, inspect units, "
        "prosody, audio and lips, change a clip's style and regenerate, circle takes and "
        "place them on a new timeline. Model settings are remembered between sessions.",
    )
    panel.add_argument(
        "timeline", type=Path, nargs="?", help="timeline file; default: the shipped demo scene"
    )
    panel.add_argument(
        "--checkpoint",
        type=Path,
        metavar="DIR",
        help="model folder for this session (default: the panel's setting, else the demo model)",
    )
    panel.set_defaults(handler=run_panel)


def run_dub(args: argparse.Namespace) -> int:
    """`imagintalk dub TIMELINE -o OUT`: 0 when every clip got dialogue, 1 otherwise.

    Everything that can be checked before generation is, once: the options, the output, the
    timeline, the media folders, then the model, device and backend (`dub_timeline`).
    """
    from imagintalk_plugin.core.paths import demo_timeline
    from imagintalk_plugin.pipeline.dubbing import DubRequest, dub_timeline

    timeline = args.timeline or demo_timeline()
    output = args.output or Path.cwd() / f"{timeline.stem}_dubbed.otio"
    check_generation_options(args)
    if args.media_dir:
        from imagintalk_plugin.timeline.relink import check_media_dirs

        check_media_dirs(args.media_dir)  # before the --face front-end and the model
    checkpoint = checkpoint_of(args)  # a missing model is a usage error before any work, too
    casts, bank = _adr_options(args, checkpoint)

    def job() -> Job:
        request = DubRequest(
            timeline=timeline,
            output=output,
            clips=tuple(args.clips or ()),
            takes=args.takes,
            seed=args.seed,
            settings=(yield from settings_job(args)),
            force=args.force,
            batch_size=args.batch_size,
            sample_rate=delivery_rate(args),
            media_dirs=tuple(args.media_dir or ()),
            cues=args.cues,
            cast=casts,
            voice_bank=bank,
        )
        return (yield from dub_timeline(request, model_loader(args)))

    report = run_job(job(), args.quiet)
    print(report.summary())
    return 1 if report.failed else 0


def _adr_options(args: argparse.Namespace, checkpoint: Path) -> tuple[tuple[Any, ...], Any]:
    """--cast parsed and --cues there (usage errors before any work), and the model's voice
    bank for `bank:` casts."""
    from imagintalk_plugin.pipeline.casting import parse_cast_option
    from imagintalk_plugin.pipeline.voice_bank import read_voice_bank

    if args.cues is not None and not Path(args.cues).is_file():
        raise UsageError(f"cue sheet '{args.cues}' does not exist")
    casts = tuple(parse_cast_option(text) for text in args.cast or ())
    return casts, read_voice_bank(checkpoint)


def run_speak(args: argparse.Namespace) -> int:
    """`imagintalk speak VIDEO -o OUT.wav [--line TEXT]`: one file range to a WAV."""
    import sys
    from dataclasses import replace

    from imagintalk_plugin.frontend.decoding import probe_video
    from imagintalk_plugin.frontend.prepare_files import parse_position
    from imagintalk_plugin.pipeline.clip_job import speak_range
    from imagintalk_plugin.timeline.bwf import write_bwf
    from imagintalk_plugin.timeline.delivery import for_delivery

    output = Path(args.output)
    video = Path(args.video)
    check_output_file(output, args.force)
    if not video.is_file():
        raise UsageError(f"video '{video}' does not exist")
    check_generation_options(args)
    if args.line is not None:
        from imagintalk_plugin.pipeline.line_units import clean_line

        clean_line(args.line)  # an empty line is a usage error before anything loads
    rate = delivery_rate(args)
    info = probe_video(video)
    start = parse_position(args.start, info) if args.start else 0.0
    end = parse_position(args.end, info) if args.end else None
    check_range(video, start, end, info.duration_s or None)
    models, stages = model_loader(args)()

    def job() -> Job:
        settings = replace((yield from settings_job(args)), line=args.line)
        return (
            yield from speak_range(
                models, stages, video, settings, start, end, info=info, batch_size=args.batch_size
            )
        )

    speech = run_job(job(), args.quiet)
    audio = for_delivery(speech.waveform, rate)
    write_bwf(output, audio, time_reference=0, force=args.force)
    seconds = audio.num_samples / audio.sample_rate
    changed = int(speech.changed.sum())
    for note in speech.notes:
        print(f"imagintalk: warning: {note}", file=sys.stderr)
    words = (
        f"the line in {len(speech.refined.tokens)} units"
        if args.line is not None
        else f"{len(speech.refined.tokens)} units ({changed} changed by the refiner)"
    )
    print(
        f"wrote {output}: {seconds:.2f} s, {words}, seed {speech.take.seed}, "
        f"model {speech.take.model}"
    )
    return 0


def run_panel(args: argparse.Namespace) -> int:
    """`imagintalk panel [TIMELINE]`: the panel in its own process; returns when it closes.

    The panel runs as `python -m imagintalk_plugin.ui` (the same process hosts start): only
    `ui` may import Qt and the command line does not import `ui`, so it starts it as a process.
    """
    import subprocess
    import sys

    command = [sys.executable, "-m", "imagintalk_plugin.ui"]
    if args.timeline is not None:
        if not Path(args.timeline).is_file():
            raise UsageError(f"timeline '{args.timeline}' does not exist")
        command.append(str(Path(args.timeline).resolve()))
    if args.checkpoint is not None:
        if not Path(args.checkpoint).is_dir():
            raise UsageError(f"checkpoint '{args.checkpoint}' is not a folder")
        command += ["--checkpoint", str(Path(args.checkpoint).resolve())]
    status = subprocess.run(command, check=False).returncode
    print("panel closed" if status == 0 else f"panel stopped with status {status}")
    return status
