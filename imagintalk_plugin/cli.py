"""The `imagintalk` command.

Sub-commands import what they need when they run, so `imagintalk --help` and
`imagintalk timeline inspect` never load torch, transformers or Qt. User errors print one line
(`imagintalk: error: ...`) and exit with the error's status (2 for bad input); anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from imagintalk_plugin import __version__
from imagintalk_plugin.core.errors import CancelledError, ImagintalkError, UsageError
from imagintalk_plugin.corpora.command import add_corpus_parser
from imagintalk_plugin.pipeline.dub_command import add_dub_commands


def _positive_rate(text: str) -> float:
    try:
        value = (
            float(text.split("/")[0]) / float(text.split("/")[1]) if "/" in text else float(text)
        )
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a frame rate: '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"frame rate must be positive: '{text}'")
    return value


def _data_source(text: str) -> object:
    """`train --data PATH[:WEIGHT]` -> a `DataSource` (argparse reports a bad weight)."""
    from imagintalk_plugin.training.training_data import parse_data_source

    try:
        return parse_data_source(text)
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _timeline_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate",
        type=_positive_rate,
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="imagintalk",
        description="Generate dialogue for silent takes from lips and faces, placed on your "
        "timeline.",
    )
    parser.add_argument("--version", action="version", version=f"imagintalk {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    timeline = commands.add_parser("timeline", help="read timelines and place audio on them")
    timeline_commands = timeline.add_subparsers(dest="timeline_command", metavar="ACTION")

    inspect = timeline_commands.add_parser("inspect", help="list a timeline's dubbable clips")
    inspect.add_argument("file", type=Path, help="timeline: .otio .otioz .edl .xml .fcpxml .aaf")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _timeline_source_options(inspect)

    place = timeline_commands.add_parser(
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
    _timeline_source_options(place)
    _add_frontend_commands(commands)
    _add_eval_command(commands)
    _add_synth_command(commands)
    add_corpus_parser(commands)
    _add_train_command(commands)
    add_dub_commands(commands)
    _add_install_host_command(commands)
    return parser


def _add_frontend_commands(commands: argparse._SubParsersAction) -> None:
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

    cache = commands.add_parser("cache", help="show or clear the prepared-clip cache")
    cache.add_argument("action", choices=["info", "clear"])


def _add_eval_command(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "eval", help="score generated speech against a corpus manifest's ground truth"
    )
    evaluate.add_argument("--manifest", type=Path, required=True, help="manifest.jsonl or folder")
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--generated", type=Path, metavar="DIR", help="folder of {id}.wav files")
    source.add_argument(
        "--ground-truth", action="store_true", help="judge the manifest's own audio (the ceiling)"
    )
    evaluate.add_argument("--out", type=Path, metavar="JSON", help="report (plots beside it)")
    evaluate.add_argument("--split", choices=["train", "valid", "test"], help="only this split")
    evaluate.add_argument(
        "--judges", metavar="LIST", help="comma list of wer,speaker,prosody,emotion,signal,sync,lag"
    )
    evaluate.add_argument("--limit", type=int, metavar="N", help="only the first N utterances")
    evaluate.add_argument("--force", action="store_true", help="overwrite an existing report")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_synth_command(commands: argparse._SubParsersAction) -> None:
    synth = commands.add_parser(
        "synth", help="render an ImaginTalk-Synth talking-face corpus with ground truth"
    )
    synth.add_argument("--out", type=Path, required=True, metavar="DIR", help="corpus folder")
    synth.add_argument("--utterances", type=int, required=True, metavar="N")
    synth.add_argument("--seed", type=int, default=0, metavar="S", help="same seed, same bytes")
    synth.add_argument("--speakers", type=int, default=12, metavar="K", help="default 12")
    synth.add_argument(
        "--faces", type=Path, metavar="DIR", help="face images/videos (default: a built-in photo)"
    )
    synth.add_argument(
        "--emotions", nargs="+", metavar="E", help="subset of neutral happy sad angry surprised"
    )
    synth.add_argument("--text", choices=["grid", "free"], default="grid", help="sentence set")
    synth.add_argument("--jobs", type=int, default=0, metavar="J", help="workers (default: cores)")
    synth.add_argument(
        "--voice-rule",
        choices=["still", "rendered"],
        default="still",
        help="voice from the still face (default) or from the face as rendered in video "
        "(synth/rendered_voice_rule.py: one clip tells it far more often)",
    )
    synth.add_argument("--force", action="store_true", help="overwrite an existing corpus")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_install_host_command(commands: argparse._SubParsersAction) -> None:
    install = commands.add_parser(
        "install-host",
        help="put the Blender or DaVinci Resolve bridge where the editor looks for it",
        description="Install the host bridge: Blender 4.2+ gets the extension in every version's "
        "extensions/user_default folder, Resolve gets Workspace > Scripts > ImaginTalk in the "
        "user's Fusion/Scripts/Utility folder (Linux, macOS, Windows). Says what it did.",
    )
    install.add_argument("host", choices=["blender", "resolve"])
    install.add_argument("--uninstall", action="store_true", help="remove what it installed")
    install.add_argument("--dest", type=Path, metavar="DIR", help="install into DIR instead")


def _add_train_command(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train stage by stage: semantic (units, aligner, detector, refiner), "
        "acoustic (codec, vocoder, dit, dit-voice)",
        description="Train one stage into the run folder --out; later stages find earlier "
        "ones there. Ctrl-C stops after the current step and keeps a checkpoint for --resume. "
        "Multi-GPU / multi-node: launch with `torchrun ... -m imagintalk_plugin train ...`.",
    )
    train.add_argument(
        "stage",
        choices=[
            *("units", "aligner", "detector", "refiner", "evaluate"),
            *("codec", "vocoder", "dit", "dit-voice", "evaluate-voice"),
        ],
    )
    train.add_argument("--preset", default="demo", help="tiny | demo | paper (default demo)")
    train.add_argument(
        "--data",
        type=_data_source,
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "timeline" and args.timeline_command == "inspect":
            return _inspect(args)
        if args.command == "timeline" and args.timeline_command == "place":
            return _place(args)
        if args.command == "prepare":
            return _prepare(args)
        if args.command == "cache":
            return _cache(args)
        if args.command == "eval":
            return _eval(args)
        if args.command == "synth":
            return _synth(args)
        if args.command == "corpus":
            from imagintalk_plugin.corpora.command import run_corpus_command

            result = run_corpus_command(args)
            if isinstance(result, str):
                print(result)
            return result if isinstance(result, int) else 0
        if args.command == "train":
            from imagintalk_plugin.training.train_command import run_train_command

            report = run_train_command(args)
            if report:
                print(report)
            return 0
        if args.command in ("dub", "speak", "export-onnx", "bench", "voice-corpus", "panel"):
            from imagintalk_plugin.pipeline import dub_command

            run = {
                "dub": dub_command.run_dub_command,
                "speak": dub_command.run_speak_command,
                "export-onnx": dub_command.run_export_command,
                "bench": dub_command.run_bench_command,
                "voice-corpus": dub_command.run_voice_corpus_command,
                "panel": dub_command.run_panel_command,
            }[args.command]
            status, report = run(args)
            print(report)
            return status
        if args.command == "install-host":
            from imagintalk_plugin.hostlink.install import install_host

            print("\n".join(install_host(args.host, args.dest, args.uninstall)))
            return 0
        parser.print_help()
        return 2 if args.command else 0
    except KeyboardInterrupt:
        print("imagintalk: cancelled", file=sys.stderr)
        return CancelledError.exit_code
    except ImagintalkError as err:
        print(f"imagintalk: error: {err}", file=sys.stderr)
        return err.exit_code


def _inspect(args: argparse.Namespace) -> int:
    import json

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


def _parse_audio_pairs(pairs: list[str]) -> dict[str, Path]:
    audio: dict[str, Path] = {}
    for pair in pairs:
        clip_id, sep, wav = pair.partition("=")
        if not sep or not clip_id or not wav:
            raise UsageError(f"--audio wants CLIP_ID=WAV, got '{pair}'")
        if clip_id in audio:
            raise UsageError(f"clip '{clip_id}' given twice in --audio")
        audio[clip_id] = Path(wav)
    return audio


def _place(args: argparse.Namespace) -> int:
    from imagintalk_plugin.timeline.place_command import place_audio_files

    audio = _parse_audio_pairs(args.audio)
    summary = place_audio_files(
        args.file,
        audio,
        args.output,
        force=args.force,
        rate=args.rate,
        timeline_index=args.timeline_index,
        media_dirs=args.media_dirs,
    )
    print(summary)
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.frontend.lip_track_builder import FrontendParams
    from imagintalk_plugin.frontend.prepare_command import prepare_video
    from imagintalk_plugin.progress_bar import ProgressBars

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
    with ProgressBars(enabled=not args.quiet) as bars:
        outputs = drive(job, bars)
    print(outputs.summary())
    return 0


def _cache(args: argparse.Namespace) -> int:
    from imagintalk_plugin.frontend.cache import LipTrackCache

    cache = LipTrackCache()
    if args.action == "clear":
        print(f"removed {cache.clear()} cached lip track(s) from {cache.root}")
    else:
        entries = cache.entries()
        size_mb = cache.size_bytes() / 1e6
        print(f"{cache.root}: {len(entries)} lip track(s), {size_mb:.1f} MB")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.evaluation.command import parse_judges, run_eval
    from imagintalk_plugin.progress_bar import ProgressBars

    job = run_eval(
        args.manifest,
        args.generated,
        ground_truth=args.ground_truth,
        out=args.out,
        split=args.split,
        judges=parse_judges(args.judges),
        limit=args.limit,
        force=args.force,
    )
    with ProgressBars(enabled=not args.quiet) as bars:
        outputs = drive(job, bars)
    print(outputs.summary())
    return 0


def _synth(args: argparse.Namespace) -> int:
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.core.signals import EMOTIONS
    from imagintalk_plugin.progress_bar import ProgressBars
    from imagintalk_plugin.synth.corpus import CorpusSettings, synth_corpus

    settings = CorpusSettings(
        out=args.out,
        utterances=args.utterances,
        seed=args.seed,
        speakers=args.speakers,
        faces=args.faces,
        emotions=tuple(args.emotions or EMOTIONS),
        text_set=args.text,
        jobs=args.jobs,
        force=args.force,
        voice_rule=args.voice_rule,
    )
    with ProgressBars(enabled=not args.quiet) as bars:
        manifest = drive(synth_corpus(settings), bars)
    print(f"wrote {args.utterances} utterances by {args.speakers} speakers: {manifest}")
    return 0
