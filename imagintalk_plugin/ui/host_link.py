"""The panel's side of a host link on Qt: host messages in, progress and placements out.

A `LinkServer` (hostlink/) runs on a thread of its own; its callbacks only emit this object's
signals, which Qt delivers on the GUI thread (queued connections). There the window is driven
exactly as its buttons drive it: `open` with `dub` queues every clip on the panel's worker (the
Run all path), `place_request` and the Place button write the takes into the folder the host
named and send the placements, `cancel` is the Cancel button. The worker's signals go back to
the host as `progress` (at most `PROGRESS_PER_S` a second) and one `finished` per clip. When
the host goes away the window closes and `closed_by_host` fires (the process then quits).
Nothing here runs model code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QLabel

from imagintalk_plugin.core.progress import Progress
from imagintalk_plugin.hostlink.placements import placement_messages
from imagintalk_plugin.hostlink.protocol import TIMEOUT_S
from imagintalk_plugin.hostlink.server import LinkServer
from imagintalk_plugin.panel_model.state import ClipResult
from imagintalk_plugin.ui.panel import PanelWindow

log = logging.getLogger(__name__)

PROGRESS_PER_S = 10.0
Message = dict[str, Any]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class HostLink(QObject):
    """Links a `PanelWindow` to the host bridge that started the panel."""

    message_received = Signal(object)  # a host message (emitted on the server thread)
    host_lost = Signal(str)  # why the host is gone (emitted on the server thread)
    closed_by_host = Signal(str)  # the window closed because the host went away (GUI thread)

    def __init__(
        self,
        window: PanelWindow,
        token: str,
        connect_timeout: float = 60.0,
        heartbeat_timeout: float = TIMEOUT_S,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.output_dir: Path | None = None  # where placing writes, as `open` said
        self.host_name = ""
        self.gone_reason = ""
        self.last_host_summary = ""  # the host's last `placed` report, as shown
        self.badge = QLabel()
        window.statusBar().addPermanentWidget(self.badge)
        self._last_progress = 0.0
        self._cancelled: set[str] = set()
        self._model_error = ""
        queued = Qt.ConnectionType.QueuedConnection
        self.message_received.connect(self._handle, queued)
        self.host_lost.connect(self._on_host_lost, queued)
        worker = window.host.worker  # connected after the window's own slots: those run first
        worker.progress.connect(self._on_progress, queued)
        worker.clip_done.connect(self._on_done, queued)
        worker.clip_failed.connect(self._on_failed, queued)
        worker.cancelled.connect(self._on_cancelled, queued)
        worker.batch_finished.connect(self._on_batch_finished, queued)
        worker.model_error.connect(self._on_model_error, queued)
        self.server = LinkServer(
            token,
            self.message_received.emit,
            self.host_lost.emit,
            connect_timeout=connect_timeout,
            heartbeat_timeout=heartbeat_timeout,
        )
        window.place_action = self.place
        window.installEventFilter(self)

    @property
    def port(self) -> int:
        """The localhost port the host connects to."""
        return self.server.port

    def close(self) -> None:
        """Say bye to the host and stop listening."""
        self.server.close()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """The window closing ends the link (the host hears bye)."""
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.server.close()
        return False

    # host -> panel ---------------------------------------------------------------------------
    @Slot(object)
    def _handle(self, message: Message) -> None:
        handlers: dict[str, Callable[[Message], object]] = {
            "hello": self._on_hello,
            "open": self._open,
            "place_request": lambda _m: self.place(requested=True),
            "cancel": lambda _m: self.window.cancel(),
            "placed": self._on_placed,
            "error": lambda m: self._status(f"{self.host_name}: {m.get('reason', 'error')}"),
        }
        kind = message.get("type", "")
        handler = handlers.get(kind)
        if handler is None:
            log.warning("host link: ignored a '%s' message", kind)
            return
        try:
            handler(message)
        except Exception as err:  # a message the panel cannot act on is an answer, not a crash
            log.exception("host link: handling '%s' failed", kind)
            self._send_error(f"cannot handle '{kind}': {type(err).__name__}: {err}")

    def _on_hello(self, message: Message) -> None:
        self.host_name = str(message.get("host") or "host")
        self._show_host()

    def _open(self, message: Message) -> None:
        """Open the host's exported timeline; with `dub`, run every clip."""
        timeline = message.get("timeline")
        if not isinstance(timeline, str) or not timeline:
            self._send_error("'open' needs a timeline path")
            return
        if message.get("host_name"):
            self.host_name = str(message["host_name"])
        if not self.window.open_timeline(Path(timeline)):
            self._send_error(self.window.statusBar().currentMessage() or f"cannot open {timeline}")
            return
        output_dir = message.get("output_dir")
        self.output_dir = Path(output_dir) if output_dir else None
        self._show_host()
        if message.get("dub") and not self.window.run(self.window.controller.clip_ids()):
            self._send_error("nothing to dub: every clip is offline, done or already queued")

    def place(self, requested: bool = False) -> str:
        """Place the takes into the host's output folder and send the placements (the Place
        button while linked, and `place_request`, which gets an `error` when nothing could be
        placed); returns the summary, "" on failure."""
        summary = self.window.place(self.output_dir)
        if not summary:
            if requested:
                self._send_error(self.window.last_error or "nothing was placed")
            return ""
        placements = placement_messages(self.window.controller.last_placed)
        self.server.send({"type": "place", "placements": placements})
        return summary

    def _on_placed(self, message: Message) -> None:
        placed = message.get("placed") or []
        failed = [f for f in message.get("failed") or [] if isinstance(f, dict)]
        host = self.host_name or "the host"
        text = f"Placed {len(placed)} take{'' if len(placed) == 1 else 's'} in {host}"
        if failed:
            reasons = "; ".join(f"{f.get('clip_id', '?')}: {f.get('reason', '')}" for f in failed)
            text += f"; {len(failed)} failed: {reasons}"
        self.last_host_summary = _one_line(text)
        self._status(self.last_host_summary)

    @Slot(str)
    def _on_host_lost(self, reason: str) -> None:
        self.gone_reason = reason
        log.info("host link: closing the panel: %s", reason)
        self._status(f"{reason}; closing")
        self.window.close()
        self.closed_by_host.emit(reason)

    # panel -> host ---------------------------------------------------------------------------
    def _send(self, message: Message) -> None:
        """Send when a host is linked (progress before any host connected goes nowhere)."""
        if self.server.connected:
            self.server.send(message)

    def _send_error(self, reason: str) -> None:
        reason = _one_line(reason)
        self._status(reason)
        self.server.send({"type": "error", "reason": reason})

    @Slot(object)
    def _on_progress(self, step: Progress) -> None:
        state = self.window.controller.clips.get(step.clip_id or "")
        now = time.monotonic()
        if state is None or now - self._last_progress < 1.0 / PROGRESS_PER_S:
            return
        self._last_progress = now
        done, total = self.window.queue_counts
        self._send(
            {
                "type": "progress",
                "done": done,
                "total": total,
                "clip_id": state.clip_id,
                "stage": step.stage,
                "fraction": round(state.fraction, 4),
            }
        )

    @Slot(object)
    def _on_done(self, result: ClipResult) -> None:
        self._finished(result.clip_id, "done")

    @Slot(str, str)
    def _on_failed(self, clip_id: str, reason: str) -> None:
        self._finished(clip_id, "failed", reason)

    @Slot(object)
    def _on_cancelled(self, unrun: list[str]) -> None:
        self._cancelled.update(unrun)

    @Slot(object)
    def _on_batch_finished(self, unrun: list[str]) -> None:
        """Clips that never ran still get a `finished`, so the host stops waiting for them."""
        for clip_id in unrun:
            if clip_id in self._cancelled:
                self._finished(clip_id, "cancelled", "cancelled")
            else:
                self._finished(clip_id, "failed", self._model_error or "not run")
        self._cancelled.difference_update(unrun)

    @Slot(str)
    def _on_model_error(self, message: str) -> None:
        self._model_error = message

    def _finished(self, clip_id: str, status: str, reason: str = "") -> None:
        message = {"type": "finished", "clip_id": clip_id, "status": status, "reason": reason}
        self._send(message)

    # display ---------------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text)

    def _show_host(self) -> None:
        host = self.host_name or "a host"
        self.badge.setText(f"Linked to {host}")
        loaded = self.window.controller.loaded
        name = f" — {loaded.path.name}" if loaded is not None else ""
        self.window.setWindowTitle(f"ImaginTalk{name} ({host})")
