"""`imagintalk install-host blender|resolve [--uninstall] [--dest DIR]`: put the host bridges
where each editor looks for them, on Linux, macOS and Windows.

The bridges' sources are the installed package's data (`imagintalk_plugin/data/host_adapters`,
found by `core.paths.host_adapters_dir`): no source checkout is needed.

A bridge gets the link protocol as `imagintalk_link.py`, the stdlib OTIO writer as
`imagintalk_otio.py`, and an `imagintalk_config.json` naming
the command that starts the panel (this Python, `-m imagintalk_plugin.ui`), so the editor's own
Python never needs torch or Qt. Only folders this command made (they hold the config file) are
ever replaced or removed; anything else in the way is refused, never overwritten.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.paths import host_adapters_dir
from imagintalk_plugin.hostlink import otio_json, protocol

HOSTS = ("blender", "resolve")
LINK_FILE = "imagintalk_link.py"
OTIO_FILE = "imagintalk_otio.py"  # the stdlib OTIO JSON writer both bridges export with
BLENDER_EXTENSION = "imagintalk"  # the extension id in blender_manifest.toml
RESOLVE_ENTRY = "ImaginTalk.py"  # shown as Workspace > Scripts > ImaginTalk
RESOLVE_PACKAGE = "imagintalk_resolve"
MIN_BLENDER = (4, 2)


@dataclass(frozen=True)
class Platform:
    """Where to look: the OS (`sys.platform`), the environment and the home folder."""

    system: str
    env: Mapping[str, str]
    home: Path

    @staticmethod
    def current() -> Platform:
        """This machine."""
        return Platform(sys.platform, dict(os.environ), Path.home())


def blender_user_dir(platform: Platform) -> Path:
    """Blender's user folder (holding one folder per version), per the Blender manual."""
    if platform.env.get("BLENDER_USER_RESOURCES"):
        return Path(platform.env["BLENDER_USER_RESOURCES"])
    if platform.system.startswith("win"):
        appdata = platform.env.get("APPDATA") or str(platform.home / "AppData" / "Roaming")
        return Path(appdata) / "Blender Foundation" / "Blender"
    if platform.system == "darwin":
        return platform.home / "Library" / "Application Support" / "Blender"
    config = platform.env.get("XDG_CONFIG_HOME") or str(platform.home / ".config")
    return Path(config) / "blender"


def blender_destinations(platform: Platform) -> list[Path]:
    """`extensions/user_default` of every Blender 4.2+ version that has a user folder."""
    base = blender_user_dir(platform)
    if platform.env.get("BLENDER_USER_RESOURCES"):
        return [base / "extensions" / "user_default"]
    found = []
    for folder in sorted(base.glob("*")) if base.is_dir() else []:
        match = re.fullmatch(r"(\d+)\.(\d+)", folder.name)
        if match and (int(match[1]), int(match[2])) >= MIN_BLENDER:
            found.append(folder / "extensions" / "user_default")
    if not found:
        raise UsageError(
            f"no Blender 4.2+ user folder under {base}: start Blender once, or pass --dest"
        )
    return found


def resolve_destination(platform: Platform) -> Path:
    """The per-user `Fusion/Scripts/Utility` folder (Workspace > Scripts on every page), per the
    Resolve scripting README."""
    if platform.system.startswith("win"):
        appdata = platform.env.get("APPDATA") or str(platform.home / "AppData" / "Roaming")
        base = Path(appdata) / "Blackmagic Design" / "DaVinci Resolve" / "Support"
    elif platform.system == "darwin":
        base = (
            platform.home / "Library" / "Application Support" / "Blackmagic Design"
            / "DaVinci Resolve"
        )  # fmt: skip
    else:
        base = platform.home / ".local" / "share" / "DaVinciResolve"
    return base / "Fusion" / "Scripts" / "Utility"


def panel_command() -> list[str]:
    """How a bridge starts the panel: this very Python, so the right environment is used."""
    return [sys.executable, "-m", "imagintalk_plugin.ui"]


def install_host(
    host: str,
    dest: Path | None = None,
    uninstall: bool = False,
    platform: Platform | None = None,
) -> list[str]:
    """Install (or remove) one host's bridge; returns one line per thing done."""
    if host not in HOSTS:
        raise UsageError(f"unknown host '{host}' (choose from {', '.join(HOSTS)})")
    platform = platform or Platform.current()
    if host == "blender":
        targets = [Path(dest)] if dest else blender_destinations(platform)
        source = host_adapters_dir() / "blender" / BLENDER_EXTENSION
        folders = [(t / BLENDER_EXTENSION, source) for t in targets]
        entries: list[tuple[Path, Path]] = []
    else:
        target = Path(dest) if dest else resolve_destination(platform)
        source = host_adapters_dir() / "resolve"
        folders = [(target / RESOLVE_PACKAGE, source / RESOLVE_PACKAGE)]
        entries = [(target / RESOLVE_ENTRY, source / RESOLVE_ENTRY)]
    lines = []
    for installed, _ in folders:
        _check_ours(installed, folder=True)
    for installed, _ in entries:
        _check_ours(installed, folder=False)
    if uninstall:
        for installed, _ in folders:
            if installed.exists():
                shutil.rmtree(installed)
                lines.append(f"removed {installed}")
        for installed, _ in entries:
            if installed.exists():
                installed.unlink()
                lines.append(f"removed {installed}")
        return lines or [f"nothing of ImaginTalk's to remove for {host}"]
    for installed, source in folders:
        _install_folder(source, installed)
        lines.append(f"installed {installed}")
    for installed, source in entries:
        shutil.copyfile(source, installed)
        lines.append(f"installed {installed}")
    lines.append(_next_step(host))
    return lines


def _check_ours(path: Path, folder: bool) -> None:
    """Refuse when something that is not an ImaginTalk bridge is in the way."""
    if not path.exists():
        return
    ours = (path / protocol.CONFIG_FILE).is_file() if folder else _is_entry(path)
    if not ours:
        raise UsageError(f"{path} exists and is not an ImaginTalk bridge; refusing to replace it")


def _is_entry(path: Path) -> bool:
    try:
        return RESOLVE_PACKAGE in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _install_folder(source: Path, installed: Path) -> None:
    """Copy the bridge next to its destination, add the shared stdlib modules (link protocol,
    OTIO writer) and the config, then swap it in."""
    if not source.is_dir():
        raise UsageError(
            f"bridge sources not found at {source}: the installed package lacks its data "
            "(reinstall imagintalk, or point IMAGINTALK_DATA_DIR at a complete data folder)"
        )
    installed.parent.mkdir(parents=True, exist_ok=True)
    staging = installed.with_name(installed.name + ".imagintalk-new")
    if staging.exists():
        shutil.rmtree(staging)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(source, staging, ignore=ignore)
    shutil.copyfile(Path(protocol.__file__), staging / LINK_FILE)
    shutil.copyfile(Path(otio_json.__file__), staging / OTIO_FILE)
    config = {"panel_command": panel_command(), "protocol": protocol.PROTOCOL_VERSION}
    (staging / protocol.CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    if installed.exists():
        shutil.rmtree(installed)
    staging.rename(installed)


def _next_step(host: str) -> str:
    if host == "blender":
        return (
            "next: in Blender, Edit > Preferences > Add-ons, enable 'ImaginTalk'; the panel is in "
            "the Video Sequencer's sidebar (N), tab ImaginTalk"
        )
    return "next: in DaVinci Resolve, Workspace > Scripts > ImaginTalk (restart Resolve once)"
