"""`imagintalk eval` and `imagintalk voice-corpus`: voice a manifest's clips, then judge them."""

from __future__ import annotations

import argparse
from pathlib import Path

from imagintalk_plugin.cli.generation import (
    check_generation_options,
    generation_options,
    model_loader,
    settings_job,
)
from imagintalk_plugin.cli.options import run_job
from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import Job


def register(commands: argparse._SubParsersAction) -> None:
    """`eval` and `voice-corpus`."""
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
        "--judges",
        metavar="LIST",
        help="comma list of wer,speaker,prosody,emotion,signal,sync,lag (all: those), or whisper "
        "(free-text WER, the whisper extra)",
    )
    evaluate.add_argument("--limit", type=int, metavar="N", help="only the first N utterances")
    evaluate.add_argument("--force", action="store_true", help="overwrite an existing report")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(handler=run_eval_command)

    corpus = commands.add_parser(
        "voice-corpus", help="video to speech for a manifest's clips (then `imagintalk eval`)"
    )
    corpus.add_argument("manifest", type=Path)
    corpus.add_argument("--out", type=Path, required=True, help="folder for <id>.wav")
    corpus.add_argument("--split", default="test", help="split to voice (default test)")
    corpus.add_argument("--limit", type=int, help="only the first N clips")
    corpus.add_argument(
        "--lines",
        action="store_true",
        help="ADR: each clip says its transcript in sync with its lips (judges the line path)",
    )
    generation_options(corpus)
    corpus.set_defaults(handler=run_voice_corpus)


def run_eval_command(args: argparse.Namespace) -> int:
    """Judge the generated (or ground-truth) audio and print the report's table."""
    from imagintalk_plugin.evaluation.scoring import parse_judges, run_eval

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
    print(run_job(job, args.quiet).summary())
    return 0


def run_voice_corpus(args: argparse.Namespace) -> int:
    """`imagintalk voice-corpus MANIFEST --out DIR`: one WAV per clip of the split."""
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
                lines=args.lines,
            )
        )

    made = run_job(job(), args.quiet)
    print(
        f"voiced {made} clip(s) into {args.out}; score them with: imagintalk eval "
        f"--manifest {args.manifest} --generated {args.out} --split {args.split}"
    )
    return 0
