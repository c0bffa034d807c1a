"""`imagintalk install-host blender|resolve`: put an editor bridge where the editor finds it."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """`install-host`."""
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
    install.set_defaults(handler=run_install_host)


def run_install_host(args: argparse.Namespace) -> int:
    """Install (or remove) the bridge and say what was done."""
    from imagintalk_plugin.hostlink.install import install_host

    print("\n".join(install_host(args.host, args.dest, args.uninstall)))
    return 0
