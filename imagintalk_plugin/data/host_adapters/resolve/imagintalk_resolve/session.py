"""Find or start the ImaginTalk panel, and serve it until it closes the link.

A session file (`~/.imagintalk/resolve_session.json`, readable by this user only: it holds the
link token) remembers the panel a previous run started, so running the script again while the
panel is open reuses it. Otherwise the panel is started with the installed command
(`imagintalk_config.json`, or `$IMAGINTALK_PANEL_COMMAND`) and a fresh token, and remembered.

The loop blocks the script, which is fine for a Resolve script (Resolve stays usable, the
script's output goes to Workspace > Console): it polls the link every `poll_interval` seconds,
applies `place` messages and answers each with `placed`, prints `progress`, `finished` and
`error` messages, and ends when the panel closes the link (`LinkClosedError`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import imagintalk_link as link_protocol
from .errors import BridgeError

if TYPE_CHECKING:  # aliases for annotations only: Resolve's Python may be older than 3.9
    from collections.abc import Callable

    Output = Callable[[str], None]
    Placer = Callable[[list[dict[str, Any]]], dict[str, Any]]

SESSION_FILE = Path.home() / ".imagintalk" / "resolve_session.json"


def open_link(
    host_name: str, session_path: Path, bridge_folder: Path, out: Output
) -> link_protocol.LinkConnection:
    """A link to a live panel: the one the session file names, else a newly started one."""
    link = link_protocol.find_session(session_path, host_name)
    if link is not None:
        out("ImaginTalk: using the panel that is already open")
        return link
    try:
        command = link_protocol.panel_command(bridge_folder)
        out("ImaginTalk: starting the panel ...")
        return link_protocol.start_panel(command, session_path, host_name)[0]
    except link_protocol.LinkError as error:
        raise BridgeError(f"the ImaginTalk panel failed to start: {error}") from None


def serve(
    link: link_protocol.LinkConnection,
    placer: Placer,
    out: Output,
    poll_interval: float = 0.1,
) -> None:
    """Answer the panel until it closes the link."""
    reporter = _Reporter(out)
    while True:
        try:
            messages = link.poll()
        except link_protocol.LinkClosedError:
            out("ImaginTalk: the panel closed; done")
            return
        except link_protocol.LinkError as error:
            link.close()
            raise BridgeError(f"the link to the panel broke: {error}") from None
        for message in messages:
            if message["type"] == "place":
                try:
                    link.send({"type": "placed", **_apply(placer, message, out)})
                except link_protocol.LinkClosedError:
                    out("ImaginTalk: the panel closed before the placement report; done")
                    return
            else:
                reporter.show(message)
        time.sleep(poll_interval)


def _apply(placer: Placer, message: dict[str, Any], out: Output) -> dict[str, Any]:
    """Run the placer on a `place` message; any failure becomes a report, never a crash."""
    placements = message.get("placements")
    if not isinstance(placements, list) or not all(isinstance(p, dict) for p in placements):
        return {"placed": [], "failed": [{"clip_id": "?", "reason": "malformed placements"}]}
    try:
        report = placer(placements)
    except Exception as error:  # a Resolve call failed: say so for every clip, keep serving
        reason = f"placing failed in Resolve: {error}"
        report = {"placed": [], "failed": [{"clip_id": p.get("clip_id", "?"), "reason": reason}
                                           for p in placements]}  # fmt: skip
    for failure in report["failed"]:
        out(f"ImaginTalk: {failure['clip_id']} not placed: {failure['reason']}")
    out(f"ImaginTalk: placed {len(report['placed'])} of {len(placements)} clip(s)")
    return report


class _Reporter:
    """Prints what the panel says, one line per stage change rather than per progress tick."""

    def __init__(self, out: Output) -> None:
        self._out = out
        self._last: tuple[object, object] = (None, None)

    def show(self, message: dict[str, Any]) -> None:
        """Print a progress, finished or error message (others are ignored)."""
        kind = message["type"]
        if kind == "error":
            self._out(f"ImaginTalk panel: {message.get('reason', 'error')}")
        elif kind == "finished":
            reason = f" ({message['reason']})" if message.get("reason") else ""
            self._out(f"ImaginTalk: {message.get('clip_id')} {message.get('status')}{reason}")
        elif kind == "progress":
            key = (message.get("clip_id"), message.get("stage"))
            if key != self._last:
                self._last = key
                self._out(
                    f"ImaginTalk: {message.get('clip_id')} {message.get('stage')} "
                    f"({message.get('done', 0)}/{message.get('total', 0)} done)"
                )
