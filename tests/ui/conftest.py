"""Panel widget fixtures: a panel window on the test scene (`panel_fixtures`) with a tiny random
checkpoint.

Qt runs offscreen (set before anything imports Qt). `make_panel` opens a panel window on the
scene with the tiny checkpoint (2 diffusion steps, one thread); `panel_runs.run_clips` presses Run
selected (or Regenerate) and waits for the takes.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from panel_fixtures import write_scene


@pytest.fixture
def scene(videos: list[Path], tmp_path: Path) -> Path:
    """scene.otio (`panel_fixtures.write_scene`): two clips with faces on V1, one offline on V2."""
    return write_scene(videos, tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    """A throwaway QSettings file for the panel's settings."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "panel.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_panel(qtbot, store: Any, checkpoint: Path, scene: Path) -> Iterator[Callable[..., Any]]:
    """Makes panel windows on the scene; their workers are stopped after the test."""
    from imagintalk_plugin.panel_model.controller import PanelController
    from imagintalk_plugin.panel_model.state import StyleSettings
    from imagintalk_plugin.ui.panel import PanelWindow

    windows: list[PanelWindow] = []

    def make(folder: Path = checkpoint, cache: Any = None) -> PanelWindow:
        window = PanelWindow(PanelController(StyleSettings(steps=2)), store=store, cache=cache)
        qtbot.addWidget(window)
        windows.append(window)
        window.settings_box.threads.setValue(1)  # leave the other core alone
        window.settings_box.use_checkpoint(folder)
        assert window.open_timeline(scene)
        window.show()
        return window

    yield make
    from shiboken6 import isValid

    for window in windows:
        if isValid(window) and window.isVisible():  # pytest-qt closes (and deletes) the rest
            window.shutdown()
