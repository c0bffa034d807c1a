"""Where the project's shipped data lives: the demo model, the demo scene, the host bridges.

Torch-free on purpose: the panel and `imagintalk install-host` need these paths without loading
any model code.
"""

from __future__ import annotations

from pathlib import Path


def repo_root() -> Path:
    """The project folder holding `models/`, `resources/` and `host_adapters/` (an editable
    install's root)."""
    return Path(__file__).resolve().parents[2]


def default_checkpoint() -> Path:
    """The shipped demo checkpoint, `models/demo`."""
    return repo_root() / "models" / "demo"


def demo_timeline() -> Path:
    """The shipped demo timeline, `resources/demo/demo.otio`."""
    return repo_root() / "resources" / "demo" / "demo.otio"


def demo_videos() -> list[Path]:
    """The demo timeline's media files."""
    return sorted((repo_root() / "resources" / "demo" / "media").glob("*.mp4"))


def host_adapters_dir() -> Path:
    """The host bridges' sources, `host_adapters/`."""
    return repo_root() / "host_adapters"
