"""The Blender bridge's tests: they run only where `bpy` imports (./.venv-bpy, made and run by
scripts/blender_env.sh); anywhere else, pytest does not collect them.

They use the main ./.venv too, through subprocesses: to make media, to install the bridge
(`imagintalk install-host blender --dest`), and to read exported timelines with the real reader.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from blender_main_venv import MAIN_PYTHON, MEDIA_SCRIPT, run_main

if importlib.util.find_spec("bpy") is None:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def main_python() -> Path:
    """The main venv's interpreter (opentimelineio, PyAV and the package are there)."""
    if not MAIN_PYTHON.exists():
        pytest.skip(f"the main venv is missing ({MAIN_PYTHON}): run scripts/install.sh")
    return MAIN_PYTHON


@pytest.fixture(scope="session")
def bridge(tmp_path_factory: pytest.TempPathFactory, main_python: Path) -> Iterator[Any]:
    """The extension as `imagintalk install-host blender` installs it, imported and registered."""
    dest = tmp_path_factory.mktemp("extensions")
    run_main(["-m", "imagintalk_plugin", "install-host", "blender", "--dest", str(dest)])
    sys.path.insert(0, str(dest))
    module = importlib.import_module("imagintalk")
    module.register()
    yield module
    module.unregister()
    sys.path.remove(str(dest))


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory, main_python: Path) -> dict[str, Path]:
    """Small H.264 clips: "24" (48 frames), "25" (50 frames), "23976" (48 frames at 24000/1001)."""
    out = tmp_path_factory.mktemp("media")
    run_main(["-c", MEDIA_SCRIPT, str(out)])
    return {name: out / f"clip_{name}.mp4" for name in ("24", "25", "23976")}


@pytest.fixture
def session_file(bridge: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private session file for the test, and the session shut down after it."""
    path = tmp_path / "session.json"
    monkeypatch.setattr(bridge.session, "session_file", lambda: path)
    yield path
    bridge.session.shutdown()
