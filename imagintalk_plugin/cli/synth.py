"""`imagintalk synth`: render an ImaginTalk-Synth talking-face corpus with ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from imagintalk_plugin.cli.options import run_job


def register(commands: argparse._SubParsersAction) -> None:
    """`synth`."""
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
    synth.add_argument(
        "--voices",
        choices=["espeak", "kokoro"],
        default="espeak",
        help="espeak-ng formant voices (default) or Kokoro-82M neural voices (the synth extra's "
        "model parts and the Kokoro voice file; synth/kokoro.py)",
    )
    synth.add_argument(
        "--id-prefix",
        default="",
        metavar="P",
        help="start every utterance id (and file name) with P, so corpora rendered with the "
        "same seed can train together",
    )
    synth.add_argument("--force", action="store_true", help="overwrite an existing corpus")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(handler=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    """Render the corpus into --out."""
    from imagintalk_plugin.core.signals import EMOTIONS
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
        voices=args.voices,
        id_prefix=args.id_prefix,
    )
    manifest = run_job(synth_corpus(settings), args.quiet)
    print(f"wrote {args.utterances} utterances by {args.speakers} speakers: {manifest}")
    return 0
