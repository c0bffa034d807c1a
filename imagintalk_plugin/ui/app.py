"""The panel as a process of its own: `python -m imagintalk_plugin.ui [TIMELINE] [--checkpoint]`.

`imagintalk panel` starts this (so do host adapters): only `ui` imports Qt, and the command
layer may not import `ui`, so the two meet at a process boundary rather than an import.
With `--link` (how host bridges start it, see `hostlink.protocol.launch_panel`) the panel reads
the session token from `$IMAGINTALK_LINK_TOKEN`, listens on localhost, prints
`IMAGINTALK-LINK-READY port=N` on stdout and quits when the host goes away.

SIGTERM, SIGINT (Ctrl-C) and SIGHUP close the panel as its close button does, so an editor or
a session manager ending it leaves no temporary files and no helper process behind
(`close_on_signals`). SIGKILL cannot be caught: the face helper then ends by itself (it watches
its parent) and the audition's folder is removed by the next panel.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from PySide6.QtCore import QSettings, QSocketNotifier
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


SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
GRACE_MS = 5000  # how long a signalled panel waits for the worker's running stage
_keep: list[object] = []  # the wake-up socket pair and its notifier live as long as the app


def close_on_signals(app: QApplication, window: PanelWindow, grace_ms: int = GRACE_MS) -> None:
    """Make SIGTERM, SIGINT and SIGHUP shut the panel down cleanly and quit with 128 + signal.

    Python runs a signal handler only between bytecodes, and Qt's event loop runs none while it
    waits: a socket that the C-level handler writes to (`signal.set_wakeup_fd`) wakes the loop
    through a `QSocketNotifier`, whose slot lets the handler run. Should the worker not stop
    within `grace_ms`, the process exits at once (its temporary files and helper are gone by
    then; a Qt thread still running at exit would abort the process instead).
    """
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, app)
    notifier.activated.connect(lambda *_: _drain(reader))
    _keep.extend((reader, writer, notifier))

    def close(signum: int, _frame: FrameType | None) -> None:
        if not window.shutdown(grace_ms):
            os._exit(128 + signum)
        app.exit(128 + signum)

    for signum in SIGNALS:
        signal.signal(signum, close)


def _drain(reader: socket.socket) -> None:
    try:
        while reader.recv(512):
            pass
    except BlockingIOError:
        pass


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
    app = application()
    window = open_panel(args.timeline, args.checkpoint, demo=not args.link)
    close_on_signals(app, window)  # Ctrl-C in the terminal closes the panel, cleanly
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
