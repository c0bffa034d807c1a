"""Driving the panel window in tests: press Run selected (or Regenerate) and wait for the takes.

A module of its own (not conftest) so test files import it by a name no other folder uses.
"""

from __future__ import annotations

from typing import Any

RUN_TIMEOUT_MS = 180_000  # generous: a training job may share the CPU


def run_clips(qtbot, window: Any, clip_ids: list[str], regenerate: bool = False) -> None:
    """Select the clips, press Run selected (or Regenerate) and wait for a new take of each."""
    from PySide6.QtCore import Qt

    window.clip_table.select(clip_ids)
    button = window.style_panel.regenerate if regenerate else window.run_selected_button
    before = {i: len(window.controller.clip(i).takes) for i in clip_ids}
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            all(len(window.controller.clip(i).takes) > before[i] for i in clip_ids)
            and not window.controller.busy()
        ),
        timeout=RUN_TIMEOUT_MS,
    )
