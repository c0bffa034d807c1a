"""`imagintalk install-host`: per-OS destinations, what lands there, and never clobbering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.hostlink import install, otio_json, protocol
from imagintalk_plugin.hostlink.install import Platform, install_host


def test_blender_user_folders_per_os(tmp_path: Path) -> None:
    linux = Platform("linux", {}, tmp_path)
    assert install.blender_user_dir(linux) == tmp_path / ".config" / "blender"
    xdg = Platform("linux", {"XDG_CONFIG_HOME": "/x"}, tmp_path)
    assert install.blender_user_dir(xdg) == Path("/x/blender")
    mac = Platform("darwin", {}, tmp_path)
    assert install.blender_user_dir(mac) == tmp_path / "Library/Application Support/Blender"
    win = Platform("win32", {"APPDATA": "C:/Users/a/AppData/Roaming"}, tmp_path)
    assert install.blender_user_dir(win) == Path(
        "C:/Users/a/AppData/Roaming/Blender Foundation/Blender"
    )


def test_resolve_utility_folder_per_os(tmp_path: Path) -> None:
    tail = Path("Fusion/Scripts/Utility")
    linux = install.resolve_destination(Platform("linux", {}, tmp_path))
    assert linux == tmp_path / ".local/share/DaVinciResolve" / tail
    mac = install.resolve_destination(Platform("darwin", {}, tmp_path))
    assert mac == tmp_path / "Library/Application Support/Blackmagic Design/DaVinci Resolve" / tail
    win = install.resolve_destination(Platform("win32", {"APPDATA": "C:/R"}, tmp_path))
    assert win == Path("C:/R/Blackmagic Design/DaVinci Resolve/Support") / tail


def test_blender_goes_to_every_version_from_4_2(tmp_path: Path) -> None:
    base = tmp_path / ".config" / "blender"
    for version in ("3.6", "4.1", "4.2", "5.0"):
        (base / version).mkdir(parents=True)
    (base / "notes").mkdir()
    lines = install_host("blender", platform=Platform("linux", {}, tmp_path))
    installed = [base / v / "extensions/user_default/imagintalk" for v in ("4.2", "5.0")]
    assert all(f"installed {p}" in lines for p in installed)
    assert not (base / "4.1" / "extensions").exists()
    for folder in installed:
        assert (folder / "blender_manifest.toml").is_file()
        link = (folder / install.LINK_FILE).read_bytes()
        assert link == Path(protocol.__file__).read_bytes()
        writer = (folder / install.OTIO_FILE).read_bytes()
        assert writer == Path(otio_json.__file__).read_bytes()
        config = json.loads((folder / protocol.CONFIG_FILE).read_text())
        assert config["panel_command"] == [sys.executable, "-m", "imagintalk_plugin.ui"]
        assert not list(folder.rglob("__pycache__"))


def test_no_blender_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="start Blender once, or pass --dest"):
        install_host("blender", platform=Platform("linux", {}, tmp_path))


def test_reinstall_replaces_ours_but_never_a_stranger(tmp_path: Path) -> None:
    install_host("blender", dest=tmp_path)
    (tmp_path / "imagintalk" / "stale.py").write_text("old")
    install_host("blender", dest=tmp_path)
    assert not (tmp_path / "imagintalk" / "stale.py").exists()

    stranger = tmp_path / "other"
    (stranger / "imagintalk").mkdir(parents=True)
    (stranger / "imagintalk" / "mine.py").write_text("the user's own add-on")
    with pytest.raises(UsageError, match="not an ImaginTalk bridge"):
        install_host("blender", dest=stranger)
    assert (stranger / "imagintalk" / "mine.py").read_text() == "the user's own add-on"


def test_uninstall_removes_only_ours(tmp_path: Path) -> None:
    install_host("blender", dest=tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    lines = install_host("blender", dest=tmp_path, uninstall=True)
    assert lines == [f"removed {tmp_path / 'imagintalk'}"]
    assert (tmp_path / "keep.txt").exists()
    assert install_host("blender", dest=tmp_path, uninstall=True) == [
        "nothing of ImaginTalk's to remove for blender"
    ]


def test_resolve_entry_and_package(tmp_path: Path) -> None:
    if not (install.host_adapters_dir() / "resolve" / install.RESOLVE_ENTRY).is_file():
        pytest.skip("the Resolve bridge sources are not in this checkout")
    install_host("resolve", dest=tmp_path)
    assert (tmp_path / install.RESOLVE_ENTRY).is_file()
    package = tmp_path / install.RESOLVE_PACKAGE
    assert (package / install.LINK_FILE).is_file()
    assert (package / install.OTIO_FILE).is_file()
    assert (package / protocol.CONFIG_FILE).is_file()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / install.RESOLVE_ENTRY).write_text("print('somebody else')")
    with pytest.raises(UsageError, match="not an ImaginTalk bridge"):
        install_host("resolve", dest=foreign)
    install_host("resolve", dest=tmp_path, uninstall=True)
    assert not (tmp_path / install.RESOLVE_ENTRY).exists()
    assert not package.exists()


def test_command_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "imagintalk_plugin", "install-host", "blender", "--dest", tmp_path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert f"installed {tmp_path / 'imagintalk'}" in run.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "imagintalk_plugin", "install-host", "maya"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr
