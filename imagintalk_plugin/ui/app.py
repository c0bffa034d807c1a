"""The panel as a process of its own: `python -m imagintalk_plugin.ui [TIMELINE] [--checkpoint]`.

`imagintalk panel` starts this (so do host adapters): only `ui` imports Qt, and the command
layer may not import `ui`, so the two meet at a process boundary rather than an import.
With `--link` (how host bridges start it, see `hostlink.protocol.launch_panel`) the panel reads
the session token from `$IMAGINTALK_LINK_TOKEN`, listens on localhost, prints
`IMAGINTALK-LINK-READY port=N` on stdout and quits when the host goes away.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from imagintalk_plugin.hostlink.protocol import READY_PREFIX, TOKEN_ENV
from imagintalk_plugin.ui.panel import PanelWindow
from imagintalk_plugin.ui.theme import apply_theme


def application() -> QApplication:
    """The process's QApplication (made once)."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    app = QApplication([sys.argv[0] if sys.argv else "imagintalk"])
    app.setApplicationName("ImaginTalk")
    app.setOrganizationName("ImaginTalk")
    apply_theme(app)
    return app


def open_panel(
    timeline: Path | None = None,
    checkpoint: Path | None = None,
    store: QSettings | None = None,
    demo: bool = True,
) -> PanelWindow:
    """A shown panel on `timeline` (default: the demo scene, or none when not `demo`);
    `checkpoint` is for this session."""
    application()
    if timeline is None and demo:
        from imagintalk_plugin.core.paths import demo_timeline

        timeline = demo_timeline()
    window = PanelWindow(store=store)
    if checkpoint is not None:
        window.settings_box.use_checkpoint(checkpoint)
    if timeline is not None:
        window.open_timeline(timeline)
    window.show()
    return window


def main(argv: Sequence[str] | None = None) -> int:
    """Open the panel and run until it is closed; returns the exit status."""
    parser = argparse.ArgumentParser(prog="imagintalk panel")
    parser.add_argument("timeline", type=Path, nargs="?")
    parser.add_argument("--checkpoint", type=Path, metavar="DIR")
    parser.add_argument(
        "--link", action="store_true", help=f"serve a host bridge (token in ${TOKEN_ENV})"
    )
    args = parser.parse_args(argv)
    token = os.environ.pop(TOKEN_ENV, "")  # not inherited by anything the panel starts
    if args.link and not token:
        sys.stderr.write(f"imagintalk panel: --link needs the session token in ${TOKEN_ENV}\n")
        return 2
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C in the terminal closes the panel
    app = application()
    window = open_panel(args.timeline, args.checkpoint, demo=not args.link)
    if not args.link:
        return int(app.exec())
    from imagintalk_plugin.ui.host_link import HostLink

    link = HostLink(window, token)
    link.closed_by_host.connect(app.quit)
    print(f"{READY_PREFIX}{link.port}", flush=True)  # noqa: T201 (the bridge waits for this line)
    try:
        return int(app.exec())
    finally:
        link.close()
