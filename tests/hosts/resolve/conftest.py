"""Fixtures for the Resolve bridge tests: the bridge installed the way users get it."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _install(dest: Path) -> None:
    """`imagintalk install-host resolve --dest DIR`, as a user runs it."""
    command = shutil.which("imagintalk", path=str(Path(sys.executable).parent))
    if command is None:
        from imagintalk_plugin.hostlink.install import install_host

        install_host("resolve", dest)
        return
    done = subprocess.run(
        [command, "install-host", "resolve", "--dest", str(dest)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def bridge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Scripts/Utility folder holding ImaginTalk.py and the imagintalk_resolve package."""
    dest = tmp_path_factory.mktemp("Utility")
    _install(dest)
    assert (dest / "ImaginTalk.py").is_file()
    assert (dest / "imagintalk_resolve" / "imagintalk_link.py").is_file()
    return dest


@pytest.fixture(scope="session")
def bridge(bridge_dir: Path) -> Iterator[ModuleType]:
    """The installed `imagintalk_resolve` package, imported from the install folder."""
    sys.path.insert(0, str(bridge_dir))
    try:
        module = importlib.import_module("imagintalk_resolve")
        importlib.import_module("imagintalk_resolve.place")
        yield module
    finally:
        sys.path.remove(str(bridge_dir))
        for name in [n for n in sys.modules if n.split(".")[0] == "imagintalk_resolve"]:
            del sys.modules[name]
