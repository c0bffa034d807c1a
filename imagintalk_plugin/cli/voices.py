"""`imagintalk voices list|add`: the model's voice bank, named voices to cast characters with
(`imagintalk dub --cast CHARACTER=bank:NAME`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from imagintalk_plugin.cli.generation import checkpoint_of
from imagintalk_plugin.core.errors import UsageError


def register(commands: argparse._SubParsersAction) -> None:
    """`voices list` and `voices add`."""
    voices = commands.add_parser(
        "voices",
        help="the model's voice bank: named voices to cast characters with",
        description="Named voices kept in the model folder (voice_bank.json), each a "
        "Resemblyzer embedding of reference recordings; `dub --cast CHARACTER=bank:NAME` "
        "gives every clip of a character that voice.",
    )
    actions = voices.add_subparsers(dest="voices_command", metavar="ACTION")

    listing = actions.add_parser("list", help="the voices of a model's bank")
    listing.add_argument(
        "--checkpoint", type=Path, metavar="DIR", help="model folder (default: the demo model)"
    )
    listing.set_defaults(handler=run_list)

    add = actions.add_parser(
        "add", help="add a voice: the average of one or more recordings of it (WAV, 1 s or more)"
    )
    add.add_argument("name", help="the voice's name, as bank:NAME casts it")
    add.add_argument("wavs", type=Path, nargs="+", metavar="WAV", help="recordings of the voice")
    add.add_argument("--checkpoint", type=Path, metavar="DIR", required=True, help="model folder")
    add.add_argument("--force", action="store_true", help="replace a voice of that name")
    add.set_defaults(handler=run_add)


def run_list(args: argparse.Namespace) -> int:
    """Print the bank's voices, one a line: name and source."""
    from imagintalk_plugin.pipeline.voice_bank import read_voice_bank

    bank = read_voice_bank(checkpoint_of(args))
    if not bank.voices:
        print(f"no voices in {bank.path} (add one with `imagintalk voices add`)")
        return 0
    width = max(len(name) for name in bank.voices)
    for name, voice in sorted(bank.voices.items()):
        print(f"{name:{width}s}  {voice.source}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    """Add a voice to the bank of --checkpoint (never the shipped model's)."""
    from imagintalk_plugin.core.paths import is_shipped
    from imagintalk_plugin.pipeline.voice_bank import add_voice, bank_path

    folder = checkpoint_of(args)
    if is_shipped(folder):
        raise UsageError(f"'{folder}' is the shipped model: copy it and add voices to the copy")
    voice = add_voice(folder, args.name, list(args.wavs), force=args.force)
    print(f"added voice '{voice.name}' to {bank_path(folder)}: {voice.source}")
    return 0
