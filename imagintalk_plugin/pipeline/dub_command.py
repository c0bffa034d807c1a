"""`imagintalk dub`, `imagintalk speak` and `imagintalk export-onnx` from parsed arguments.

The first Ctrl-C cancels at the next stage boundary (files are only ever renamed into place,
so nothing half-written stays); a second one stops at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import Job, drive, interruptible
from imagintalk_plugin.pipeline.preflight import check_output_file, check_range, delivery_rate
from imagintalk_plugin.pipeline.timbre_options import (
    Timbre,
    add_timbre_options,
    check_timbre_options,
    timbre_job,
)

DEFAULT_BATCH_SIZE = 8  # 1.13x the throughput of one at a time on 2 CPU cores (bench)


def _drive(job: Job, quiet: bool) -> Any:
    from imagintalk_plugin.progress_bar import ProgressBars

    with interruptible() as cancel, ProgressBars(enabled=not quiet) as bars:
        return drive(job, bars, cancel)


def speech_settings(args: argparse.Namespace, timbre: Timbre | None = None) -> Any:
    """SpeechSettings from the shared generation options (and the --voice / --face timbre)."""
    from dataclasses import replace

    from imagintalk_plugin.nn.masked_diffusion import SamplerSettings
    from imagintalk_plugin.pipeline.speech import SpeechSettings
    from imagintalk_plugin.pipeline.voice_generation import VoiceOverrides

    timbre = timbre or Timbre()
    try:
        sampler = replace(SamplerSettings(), steps=args.steps, guidance=args.guidance)
        overrides = VoiceOverrides(
            reference_voice=timbre.reference_voice,
            face=timbre.face,
            emotion=args.emotion,
            pitch_offset_semitones=args.pitch,
            speed_factor=args.speed,
            seed=args.seed,
        )
        return SpeechSettings(
            threshold=args.threshold, sampler=sampler, overrides=overrides, timbre=timbre.record
        )
    except ValueError as err:
        raise UsageError(str(err)) from err


def check_generation_options(args: argparse.Namespace) -> None:
    """Bad style options and unusable --voice / --face files: usage errors before any work."""
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, not {args.batch_size}")
    speech_settings(args)
    check_timbre_options(args)


def settings_job(args: argparse.Namespace) -> Job[Any]:
    """Job: SpeechSettings with the --voice / --face timbre resolved (front-end for --face)."""
    return speech_settings(args, (yield from timbre_job(args)))


def model_loader(args: argparse.Namespace) -> Callable[[], tuple[Any, Any]]:
    """Loads the checkpoint and its stages on first call (so bad input fails before)."""

    def load() -> tuple[Any, Any]:
        from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages

        device = None if args.device == "auto" else args.device
        models = load_dub_models(checkpoint_of(args), device)
        return models, make_stages(models, args.backend, device, args.threads)

    return load


def checkpoint_of(args: argparse.Namespace) -> Path:
    """--checkpoint, or the shipped demo model."""
    from imagintalk_plugin.core.paths import default_checkpoint
    from imagintalk_plugin.pipeline.dub_models import check_checkpoint

    folder = args.checkpoint or default_checkpoint()
    check_checkpoint(folder)
    return folder


def _generation_options(parser: argparse.ArgumentParser) -> None:
    """Model, device and style options shared by `speak` and `dub`."""
    parser.add_argument(
        "--checkpoint", type=Path, metavar="DIR", help="model folder (default: models/demo)"
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: default)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"clips (and windows of long clips) generated together (default {DEFAULT_BATCH_SIZE}"
        "; 1 = one at a time, less memory)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--steps", type=int, default=16, help="diffusion steps (default 16)")
    parser.add_argument("--guidance", type=float, default=2.0, help="guidance scale (2.0)")
    parser.add_argument(
        "--threshold", type=float, help="error-detector flag threshold (default: calibrated)"
    )
    parser.add_argument(
        "--emotion", choices=["neutral", "happy", "sad", "angry", "surprised"], help="override"
    )
    parser.add_argument("--pitch", type=float, default=0.0, help="pitch offset in semitones")
    parser.add_argument("--speed", type=float, default=1.0, help="speaking speed factor")
    add_timbre_options(parser)
    parser.add_argument(
        "--sample-rate",
        default="48000",
        metavar="HZ",
        help="rate of the written audio: 48000 (default, 24-bit BWF), 44100, 96000, ... or "
        "'model' for the model's own 16 kHz",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_dub_commands(commands: argparse._SubParsersAction) -> None:
    """The `dub`, `speak` and `export-onnx` sub-commands."""
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
    _generation_options(dub)
    speak = commands.add_parser("speak", help="generate speech for one video file or range")
    speak.add_argument("video", type=Path)
    speak.add_argument("--start", help="start (seconds, M:SS or source timecode)")
    speak.add_argument("--end", help="end (seconds, M:SS or source timecode)")
    speak.add_argument("-o", "--output", type=Path, required=True, help="output WAV")
    speak.add_argument("--force", action="store_true", help="overwrite an existing output WAV")
    _generation_options(speak)
    export = commands.add_parser(
        "export-onnx", help="export every stage of a checkpoint to ONNX for --backend onnx"
    )
    export.add_argument(
        "--checkpoint", type=Path, metavar="DIR", help="model folder (default: models/demo)"
    )
    export.add_argument("--out", type=Path, help="output folder (default: CHECKPOINT/onnx)")
    export.add_argument("--force", action="store_true", help="replace an existing export")
    corpus = commands.add_parser(
        "voice-corpus", help="video to speech for a manifest's clips (then `imagintalk eval`)"
    )
    corpus.add_argument("manifest", type=Path)
    corpus.add_argument("--out", type=Path, required=True, help="folder for <id>.wav")
    corpus.add_argument("--split", default="test", help="split to voice (default test)")
    corpus.add_argument("--limit", type=int, help="only the first N clips")
    _generation_options(corpus)
    bench = commands.add_parser(
        "bench", help="time every stage on a 3 s and a 30 s clip, torch and onnx side by side"
    )
    bench.add_argument(
        "--checkpoint", type=Path, metavar="DIR", help="model folder (default: models/demo)"
    )
    bench.add_argument("--video", type=Path, help="a video with a face (default: the demo's)")
    bench.add_argument(
        "--backends", nargs="+", choices=["torch", "onnx"], default=["torch", "onnx"]
    )
    bench.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    bench.add_argument("--repeats", type=int, default=3, help="timed runs per clip (median)")
    bench.add_argument("--threads", type=int, default=0, help="CPU threads (0: default)")
    bench.add_argument("--json", type=Path, help="also write the figures as JSON here")
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
        help="model folder for this session (default: the panel's setting, else models/demo)",
    )


def run_dub_command(args: argparse.Namespace) -> tuple[int, str]:
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
    checkpoint_of(args)  # a missing model is a usage error before any work, too

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
        )
        return (yield from dub_timeline(request, model_loader(args)))

    report = _drive(job(), args.quiet)
    return (1 if report.failed else 0), report.summary()


def run_speak_command(args: argparse.Namespace) -> tuple[int, str]:
    """`imagintalk speak VIDEO -o OUT.wav`: one file range to a WAV."""
    from imagintalk_plugin.frontend.decoding import probe_video
    from imagintalk_plugin.frontend.face_models import release_shared_face_models
    from imagintalk_plugin.frontend.prepare import prepare_range
    from imagintalk_plugin.frontend.prepare_command import parse_position
    from imagintalk_plugin.pipeline.speech import speak_track
    from imagintalk_plugin.timeline.bwf import write_bwf
    from imagintalk_plugin.timeline.delivery import for_delivery

    output = Path(args.output)
    video = Path(args.video)
    check_output_file(output, args.force)
    if not video.is_file():
        raise UsageError(f"video '{video}' does not exist")
    check_generation_options(args)
    rate = delivery_rate(args)
    info = probe_video(video)
    start = parse_position(args.start, info) if args.start else 0.0
    end = parse_position(args.end, info) if args.end else None
    check_range(video, start, end, info.duration_s or None)
    models, stages = model_loader(args)()

    def job() -> Job:
        settings = yield from settings_job(args)
        prepared = yield from prepare_range(video, start, end, clip_id=video.name, info=info)
        release_shared_face_models()  # about 100 MB less while the take is generated
        return (yield from speak_track(models, stages, prepared.track, settings, args.batch_size))

    speech = _drive(job(), args.quiet)
    audio = for_delivery(speech.waveform, rate)
    write_bwf(output, audio, time_reference=0, force=args.force)
    seconds = audio.num_samples / audio.sample_rate
    changed = int(speech.changed.sum())
    return 0, (
        f"wrote {output}: {seconds:.2f} s, {len(speech.refined.tokens)} units "
        f"({changed} changed by the refiner), seed {speech.take.seed}, model {speech.take.model}"
    )


def run_export_command(args: argparse.Namespace) -> tuple[int, str]:
    """`imagintalk export-onnx`: every stage of a checkpoint to CHECKPOINT/onnx (or --out)."""
    from imagintalk_plugin.pipeline.dub_models import load_dub_models, source_identity
    from imagintalk_plugin.runtime.onnx_export import export_onnx
    from imagintalk_plugin.runtime.stages import stage_modules

    folder = checkpoint_of(args)
    models = load_dub_models(folder, "cpu")
    s, v = models.semantic, models.voice
    modules = stage_modules(
        s.aligner, s.detector, s.refiner, v.generator, v.codec, v.vocoder, v.override_generator
    )
    out = args.out or folder / "onnx"
    written = export_onnx(modules, out, source=source_identity(models), force=args.force)
    return 0, f"wrote {len(written)} file(s) to {out}"


def run_bench_command(args: argparse.Namespace) -> tuple[int, str]:
    """`imagintalk bench`: the figures table (and JSON with --json)."""
    import json
    import tempfile

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
        status, notes = run_export_command(
            argparse.Namespace(checkpoint=folder, out=None, force=False)
        )
        notes = f"(exported first: {notes})\n"
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
    status = 1 if any("error" in r for r in results) else 0
    return status, notes + format_report(results, frontend)


def run_voice_corpus_command(args: argparse.Namespace) -> tuple[int, str]:
    """`imagintalk voice-corpus MANIFEST --out DIR`."""
    from imagintalk_plugin.evaluation.corpus_voicing import voice_corpus

    if not args.manifest.is_file():
        raise UsageError(f"manifest '{args.manifest}' does not exist")
    check_generation_options(args)
    models, stages = model_loader(args)()

    def job() -> Job:
        settings = yield from settings_job(args)
        return (
            yield from voice_corpus(
                models,
                stages,
                args.manifest,
                args.out,
                args.split,
                args.limit,
                settings,
                args.batch_size,
            )
        )

    made = _drive(job(), args.quiet)
    return (
        0,
        (
            f"voiced {made} clip(s) into {args.out}; score them with: imagintalk eval "
            f"--manifest {args.manifest} --generated {args.out} --split {args.split}"
        ),
    )


def run_panel_command(args: argparse.Namespace) -> tuple[int, str]:
    """`imagintalk panel [TIMELINE]`: the panel in its own process; returns when it closes.

    The panel runs as `python -m imagintalk_plugin.ui` (the same process hosts start): only
    `ui` may import Qt and this layer may not import `ui`, so the command starts it rather
    than importing it.
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
    return status, "panel closed" if status == 0 else f"panel stopped with status {status}"
