"""The link session with the ImaginTalk panel: start or find it, talk to it, apply what it sends.

One session per Blender process, kept in module state and reused while the panel is alive.
Starting the panel can take many seconds, so `launch_panel` / `connect` run in a worker thread
that never touches `bpy`; everything else happens in `poll`, which a `bpy.app.timers` timer
calls every `POLL_S` seconds on Blender's main thread (and which tests and background scripts
may call directly, since timers do not fire in background mode).

Messages from the panel: `progress` (kept, shown in the status bar), `finished` (per clip),
`place` (applied with `placement.apply_placements`, answered with `placed`), `error` (kept and
shown), `bye` / silence (the session is cleared). A running panel is remembered in a session
file (port + token, readable by this user only) so a reloaded add-on finds it again.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import queue
import tempfile
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import bpy

from . import compat, imagintalk_link, placement

POLL_S = 0.2
HOST = "blender"
_log = logging.getLogger(__name__)


@dataclass
class Session:
    """What the bridge knows about its panel; read by the UI, changed only on the main thread."""

    link: Any = None  # imagintalk_link.LinkConnection once connected
    process: Any = None  # the panel's Popen when this Blender started it
    connecting: bool = False
    pending: list[dict[str, Any]] = field(default_factory=list)  # sent once connected
    scene_name: str = ""  # where placements go
    progress: dict[str, Any] = field(default_factory=dict)
    finished: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)  # the last `placed` report
    error: str = ""
    status: str = "not connected"
    generation: int = 0  # bumped by `shutdown`, so a late worker result is dropped


STATE = Session()
_results: queue.Queue[tuple[int, Any, Any, str]] = queue.Queue()
_TEMP_OUTPUT: dict[str, Path] = {}


def is_linked() -> bool:
    """Whether a panel is connected now."""
    return STATE.link is not None and not STATE.link.closed


def output_dir() -> Path:
    """`<blend file folder>/imagintalk/` for a saved file, else a temporary folder (one per
    Blender session)."""
    if bpy.data.filepath:
        folder = Path(bpy.path.abspath("//")) / "imagintalk"
    else:
        if "unsaved" not in _TEMP_OUTPUT:
            _TEMP_OUTPUT["unsaved"] = Path(tempfile.mkdtemp(prefix="imagintalk-blender-"))
        folder = _TEMP_OUTPUT["unsaved"]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def session_file() -> Path:
    """Where a running panel's port and token are remembered for this user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    return Path(tempfile.gettempdir()) / f"imagintalk-blender-{user}.json"


def open_panel(scene: Any, timeline: Path, out_dir: Path, dub: bool) -> None:
    """Show `timeline` in the panel (dubbing it when `dub`), starting the panel when needed.
    Raises `imagintalk_link.LinkError` when no panel command is configured."""
    message = {
        "type": "open",
        "timeline": str(timeline),
        "output_dir": str(out_dir),
        "dub": bool(dub),
        "host_name": f"Blender {bpy.app.version_string}",
    }
    STATE.scene_name = scene.name
    STATE.error = ""
    STATE.finished.clear()
    STATE.progress.clear()
    STATE.report = {}
    if is_linked():
        _send(message)
    else:
        command = imagintalk_link.panel_command(Path(__file__).parent)
        STATE.pending = [message]
        if not STATE.connecting:
            STATE.connecting = True
            STATE.status = "starting the ImaginTalk panel..."
            args = (STATE.generation, command, session_file())
            threading.Thread(target=_connect_worker, args=args, daemon=True).start()
    ensure_timer()


def request_placement() -> None:
    """Ask the panel for the finished takes (it answers with `place`)."""
    _require_link()
    _send({"type": "place_request"})


def cancel() -> None:
    """Ask the panel to stop dubbing."""
    _require_link()
    _send({"type": "cancel"})


def _require_link() -> None:
    if not is_linked():
        reason = "the panel is still starting" if STATE.connecting else "no panel is connected"
        raise imagintalk_link.LinkError(f"{reason}: use 'Open ImaginTalk panel' first")


def ensure_timer() -> None:
    """Start polling on Blender's timer (a no-op when it already runs)."""
    if not bpy.app.timers.is_registered(poll):
        bpy.app.timers.register(poll, first_interval=POLL_S, persistent=True)


def poll() -> float | None:
    """One round of the session on the main thread; returns the delay to the next round, or None
    when there is nothing left to watch (the timer then stops)."""
    _take_worker_results()
    if STATE.link is not None:
        try:
            messages = STATE.link.poll()
        except imagintalk_link.LinkError as error:
            _closed(str(error))
            messages = []
        for message in messages:
            try:
                _handle(message)
            except Exception as error:  # an odd message must not stop the timer
                _log.exception("ImaginTalk: handling '%s' failed", message.get("type"))
                STATE.error = f"could not handle the panel's '{message.get('type')}': {error}"
    _redraw()
    return POLL_S if (STATE.connecting or STATE.link is not None) else None


def shutdown() -> None:
    """Say goodbye to the panel and forget the session (add-on disabled, Blender quitting);
    the panel quits when its host says bye."""
    if bpy.app.timers.is_registered(poll):
        bpy.app.timers.unregister(poll)
    if STATE.link is not None:
        STATE.link.close(say_bye=True)
    generation = STATE.generation + 1
    fresh = Session(generation=generation)
    for item in fields(Session):
        setattr(STATE, item.name, getattr(fresh, item.name))


def _connect_worker(generation: int, command: list[str], session_path: Path) -> None:
    """Worker thread: find the remembered panel or start one, then connect (no bpy here)."""
    try:
        link = imagintalk_link.find_session(session_path, HOST)
        process = None
        if link is None:
            log_path = Path(tempfile.gettempdir()) / f"imagintalk-panel-{os.getpid()}.log"
            link, process = imagintalk_link.start_panel(command, session_path, HOST, log_path)
        _results.put((generation, link, process, ""))
    except (imagintalk_link.LinkError, OSError, ValueError) as error:
        _results.put((generation, None, None, str(error) or type(error).__name__))


def _take_worker_results() -> None:
    while True:
        try:
            generation, link, process, error = _results.get_nowait()
        except queue.Empty:
            return
        if generation != STATE.generation:  # started before a shutdown: not ours any more
            if link is not None:
                link.close(say_bye=True)
            continue
        STATE.connecting = False
        if link is None:
            _fail(f"cannot reach the ImaginTalk panel: {error}")
            STATE.pending.clear()
            continue
        STATE.link, STATE.process = link, process or STATE.process
        STATE.status = "connected to the ImaginTalk panel"
        pending, STATE.pending = STATE.pending, []
        with contextlib.suppress(imagintalk_link.LinkError):  # recorded as closed by _send
            for message in pending:
                _send(message)


def _send(message: dict[str, Any]) -> None:
    try:
        STATE.link.send(message)
    except imagintalk_link.LinkError as error:
        _closed(str(error))
        raise


def _handle(message: dict[str, Any]) -> None:
    kind = message["type"]
    if kind == "progress":
        STATE.progress = dict(message)
        STATE.status = _progress_text(message)
        _status_bar(STATE.status)
    elif kind == "finished":
        clip_id = str(message.get("clip_id", "?"))
        STATE.finished[clip_id] = {"status": message.get("status"), "reason": message.get("reason")}
    elif kind == "place":
        _place(list(message.get("placements") or []))
    elif kind == "error":
        _fail(f"ImaginTalk panel: {message.get('reason', 'unknown error')}")


def _place(placements: list[dict[str, Any]]) -> None:
    scene = bpy.data.scenes.get(STATE.scene_name) if STATE.scene_name else None
    if scene is None:
        scene = compat.sequencer_scene(bpy.context)
    try:
        report = placement.apply_placements(scene, placements, undo_push=_undo_push)
    except Exception as error:  # a placement problem is an answer to the panel, never a crash
        _log.exception("ImaginTalk: placing takes failed")
        reason = f"{type(error).__name__}: {error}"
        ids = [str(p.get("clip_id", "?")) if isinstance(p, dict) else "?" for p in placements]
        report = {"placed": [], "failed": [{"clip_id": i, "reason": reason} for i in ids]}
    STATE.report = report
    STATE.status = f"placed {len(report['placed'])} take(s), {len(report['failed'])} failed"
    _status_bar(f"ImaginTalk: {STATE.status}")
    with contextlib.suppress(imagintalk_link.LinkError):  # recorded as closed by _send
        _send({"type": "placed", **report})


def _closed(reason: str) -> None:
    """The link is gone: clear the session (the panel process, if ours, exits by itself)."""
    if STATE.link is not None:
        STATE.link.close()
    STATE.link = None
    STATE.status = f"panel disconnected ({reason})"
    _status_bar(None)


def _fail(text: str) -> None:
    STATE.error = text
    STATE.status = text
    _log.warning(text)
    _status_bar(None)
    _popup(text)


def _progress_text(message: dict[str, Any]) -> str:
    done, total = message.get("done", 0), message.get("total", 0)
    fraction = float(message.get("fraction") or 0.0)
    where = f" {message['clip_id']}" if message.get("clip_id") else ""
    stage = f" {message['stage']}" if message.get("stage") else ""
    return f"ImaginTalk: {done}/{total}{where}{stage} {fraction:.0%}"


def _undo_push(text: str) -> None:
    with contextlib.suppress(RuntimeError):  # no undo stack (background mode)
        bpy.ops.ed.undo_push(message=text)


def _windows() -> list[Any]:
    """Blender's windows; none in background mode (timers get no window in their context)."""
    if bpy.app.background:
        return []
    return list(getattr(getattr(bpy.context, "window_manager", None), "windows", ()))


def _status_bar(text: str | None) -> None:
    """Show `text` in the status bar of every window (None restores the normal status bar)."""
    for window in _windows():
        with contextlib.suppress(RuntimeError), bpy.context.temp_override(window=window):
            window.workspace.status_text_set(text)


def _popup(text: str) -> None:
    """A one-line error popup in the first window."""

    def draw(menu: Any, _context: Any) -> None:
        menu.layout.label(text=text)

    for window in _windows()[:1]:
        with contextlib.suppress(RuntimeError), bpy.context.temp_override(window=window):
            bpy.context.window_manager.popup_menu(draw, title="ImaginTalk", icon="ERROR")


def _redraw() -> None:
    for window in _windows():
        for area in window.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                area.tag_redraw()
