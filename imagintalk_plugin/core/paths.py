"""Where the shipped data lives: the demo model, the demo scene, the host bridges.

They are package data, `imagintalk_plugin/data/` (`models/demo`, `demo/`, `host_adapters/`),
found with `importlib.resources`, so an installed wheel finds them as an editable checkout does.
`$IMAGINTALK_DATA_DIR` names another folder with the same layout instead (a data folder kept
apart from the installed code).

Torch-free on purpose: the panel and `imagintalk install-host` need these paths without loading
any model code.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from imagintalk_plugin.core.errors import UsageError

DATA_DIR_ENV = "IMAGINTALK_DATA_DIR"


def data_dir() -> Path:
    """The shipped data folder: `$IMAGINTALK_DATA_DIR` when set, else the package's `data/`."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        folder = Path(override).expanduser()
        if not folder.is_dir():
            raise UsageError(f"{DATA_DIR_ENV}={override} is not a folder")
        return folder
    data = files("imagintalk_plugin") / "data"
    if not isinstance(data, Path):
        # Models and media are opened by path (safetensors, PyAV, ffmpeg): the package must be
        # installed as files, not imported from a zip.
        raise UsageError(
            f"imagintalk_plugin's data is not on the file system ({data}); install the package "
            f"unzipped, or set {DATA_DIR_ENV} to a copy of its data/ folder"
        )
    return data


def is_shipped(path: Path) -> bool:
    """Whether `path` lies in the shipped data (read-only for users: never written beside)."""
    return Path(path).resolve().is_relative_to(data_dir().resolve())


def default_checkpoint() -> Path:
    """The shipped demo checkpoint, `data/models/demo`."""
    return data_dir() / "models" / "demo"


def demo_timeline() -> Path:
    """The shipped demo timeline, `data/demo/demo.otio`."""
    return data_dir() / "demo" / "demo.otio"


def demo_videos() -> list[Path]:
    """The demo timeline's media files."""
    return sorted((data_dir() / "demo" / "media").glob("*.mp4"))


def host_adapters_dir() -> Path:
    """The host bridges' sources, `data/host_adapters/`."""
    return data_dir() / "host_adapters"
