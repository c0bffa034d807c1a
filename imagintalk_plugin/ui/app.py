"""The panel as a process of its own: `python -m imagintalk_plugin.ui [TIMELINE] [--checkpoint]`.

`imagintalk panel` starts this (so do host adapters): only `ui` imports Qt, and the command
layer may not import `ui`, so the two meet at a process boundary rather than an import.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from imagintalk_plugin.ui.panel import PanelWindow


def application() -> QApplication:
    """The process's QApplication (made once)."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    app = QApplication([sys.argv[0] if sys.argv else "imagintalk"])
    app.setApplicationName("ImaginTalk")
    app.setOrganizationName("ImaginTalk")
    return app


def open_panel(
    timeline: Path | None = None, checkpoint: Path | None = None, store: QSettings | None = None
) -> PanelWindow:
    """A shown panel on `timeline` (default: the demo scene); `checkpoint` is for this session."""
    application()
    if timeline is None:
        from imagintalk_plugin.pipeline.dub_models import demo_timeline

        timeline = demo_timeline()
    window = PanelWindow(store=store)
    if checkpoint is not None:
        window.settings_box.use_checkpoint(checkpoint)
    window.open_timeline(timeline)
    window.show()
    return window


def main(argv: Sequence[str] | None = None) -> int:
    """Open the panel and run until it is closed; returns the exit status."""
    parser = argparse.ArgumentParser(prog="imagintalk panel")
    parser.add_argument("timeline", type=Path, nargs="?")
    parser.add_argument("--checkpoint", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C in the terminal closes the panel
    app = application()
    open_panel(args.timeline, args.checkpoint)
    return int(app.exec())
