"""The host link: a host bridge (Blender, Resolve) <-> the ImaginTalk panel process.

Standard library only and self-contained (no imports from the package), because the host
bridges run inside the editor's own Python: `imagintalk install-host` copies this very file next
to them as `imagintalk_link.py`.

Wire format: TCP on 127.0.0.1 only, one JSON object per line (UTF-8), at most 16 MiB a line.
The panel listens; the host connects and must open with
`{"type": "hello", "token": ..., "host": ..., "protocol": 1}`; a wrong token or protocol gets
`{"type": "error", "reason": ...}` and the connection is closed. The token is made by whoever
starts the panel and reaches it through the environment (`IMAGINTALK_LINK_TOKEN`), never the
command line (which other users can read). Both sides send `{"type": "ping"}` every second; a
side that hears nothing for `TIMEOUT_S` counts the other as gone (the panel then closes).

Messages, host -> panel: hello, open {timeline, output_dir, dub, host_name}, place_request,
cancel, placed {placed: [clip_id], failed: [{clip_id, reason}]}, ping, bye.
Panel -> host: welcome {protocol}, error {reason}, progress {done, total, clip_id, stage,
fraction}, finished {clip_id, status: done | failed | cancelled, reason}, place {placements:
[...]}, ping, bye.
A placement: {clip_id, clip_name, audio_path, rate, record_start, duration, track_name, take};
`record_start` and `duration` are whole frames at `rate`, counted from the timeline's first
frame (the bridge adds its own start frame).
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROTOCOL_VERSION = 1
TOKEN_ENV = "IMAGINTALK_LINK_TOKEN"
READY_PREFIX = "IMAGINTALK-LINK-READY port="
LOCALHOST = "127.0.0.1"
HEARTBEAT_S = 1.0
TIMEOUT_S = 10.0
MAX_MESSAGE = 16 * 1024 * 1024


class LinkError(Exception):
    """The link failed: refused, malformed, or the other side is missing."""


class LinkClosedError(LinkError):
    """The other side closed the link or went silent for longer than the timeout."""


def new_token() -> str:
    """A fresh per-session secret."""
    return secrets.token_hex(16)


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line on the wire."""
    data = json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"
    if len(data) > MAX_MESSAGE:
        raise LinkError(f"message of {len(data)} bytes is over the {MAX_MESSAGE}-byte limit")
    return data


class MessageReader:
    """Splits received bytes into messages; refuses oversize lines and anything not an object.

    A line may hold at most `MAX_MESSAGE` bytes with its newline (what `encode` allows). Only
    the new bytes are searched for a newline, so a large message arriving in many pieces costs
    linear time.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The whole messages completed by `data`."""
        scan = len(self._buffer)
        self._buffer += data
        messages = []
        while (end := self._buffer.find(b"\n", scan)) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            scan = 0
            if len(line) >= MAX_MESSAGE:
                raise LinkError(f"a message is over the {MAX_MESSAGE}-byte limit")
            if line.strip():
                messages.append(_decode(line))
        if len(self._buffer) >= MAX_MESSAGE:
            raise LinkError(f"a message is over the {MAX_MESSAGE}-byte limit")
        return messages


def _decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise LinkError(f"malformed message: {error}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise LinkError("malformed message: not an object with a 'type'")
    return message


class LinkConnection:
    """One end of an established link, non-blocking: `poll()` often (a Blender timer, a loop).

    Pings are sent and swallowed here; `poll` returns the other messages and raises
    `LinkClosedError` when the peer closed the socket, said bye or has been silent for
    `timeout` seconds. Messages that arrived before the end are still returned first (an
    `error` just before the close, a `placed` just before a `bye`); the next `poll` raises.
    Not thread-safe: one thread polls and sends (the panel's `LinkServer` does so).
    """

    def __init__(self, sock: socket.socket, timeout: float = TIMEOUT_S) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._reader = MessageReader()
        self.timeout = timeout  # seconds of silence after which the other side counts as gone
        self._last_heard = self._last_sent = time.monotonic()
        self._end = "the link is closed"
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        """Send one message; waits while the kernel's buffer is full, at most `timeout` s for
        each piece (a peer that stops reading counts as gone)."""
        if self.closed:
            raise LinkClosedError(self._end)
        data = encode(message)
        self._sock.settimeout(self.timeout)
        try:
            self._sock.sendall(data)
        except OSError as error:
            self._lose(f"the other side is gone ({error})")
            raise LinkClosedError(self._end) from None
        finally:
            if not self.closed:
                self._sock.setblocking(False)
        self._last_sent = time.monotonic()

    def poll(self) -> list[dict[str, Any]]:
        """Messages received since the last call (pings excluded); keeps the heartbeat going."""
        if self.closed:
            raise LinkClosedError(self._end)
        messages: list[dict[str, Any]] = []
        end = None
        while end is None:
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                end = f"the other side is gone ({error})"
                break
            if not data:
                end = "the other side closed the link"
                break
            self._last_heard = time.monotonic()
            messages.extend(self._reader.feed(data))
        kinds = [m["type"] for m in messages]
        if "bye" in kinds:
            messages, end = messages[: kinds.index("bye")], "the other side said goodbye"
        now = time.monotonic()
        if end is None and now - self._last_heard > self.timeout:
            end = f"no word from the other side for {self.timeout:g} s"
        if end is None and now - self._last_sent >= HEARTBEAT_S:
            try:
                self.send({"type": "ping"})
            except LinkClosedError as error:
                end = str(error)
        messages = [m for m in messages if m["type"] != "ping"]
        if end is not None:
            self._lose(end)
            if not messages:
                raise LinkClosedError(end)
        return messages

    def _lose(self, reason: str) -> None:
        """Close without a bye and remember why, for the next `poll` or `send`."""
        self.close()
        self._end = reason

    def wait(self, kind: str, timeout: float) -> dict[str, Any]:
        """Block (polling) until a message of type `kind` arrives; others are dropped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.poll():
                if message["type"] == kind:
                    return message
                if message["type"] == "error":
                    raise LinkError(str(message.get("reason", "refused")))
            time.sleep(0.02)
        raise LinkError(f"no '{kind}' from the other side within {timeout:.0f} s")

    def close(self, say_bye: bool = False) -> None:
        """Close the socket (after a `bye` when asked); safe to call twice."""
        if self.closed:
            return
        if say_bye:
            try:
                self._sock.settimeout(1.0)
                self._sock.sendall(encode({"type": "bye"}))
            except OSError:
                pass
        self.closed = True
        self._sock.close()


def connect(
    port: int,
    token: str,
    host_name: str,
    timeout: float = 5.0,
    heartbeat_timeout: float = TIMEOUT_S,
) -> LinkConnection:
    """Connect to a panel on this machine and pass the token check."""
    try:
        sock = socket.create_connection((LOCALHOST, port), timeout=timeout)
    except OSError as error:
        raise LinkError(f"no ImaginTalk panel listening on port {port} ({error})") from None
    link = LinkConnection(sock, heartbeat_timeout)
    hello = {"type": "hello", "token": token, "host": host_name, "protocol": PROTOCOL_VERSION}
    link.send(hello)
    try:
        link.wait("welcome", timeout)
    except LinkClosedError:
        raise LinkError("the ImaginTalk panel refused the connection") from None
    return link


def launch_panel(
    command: Sequence[str],
    token: str,
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> tuple[subprocess.Popen[str], int]:
    """Start the panel process (`command` with its arguments; `--link` is added) and wait until
    it listens; returns the process and its port. The token goes through the environment; the
    panel's stderr goes to `log_path` (default: a file in the temp folder), named in errors."""
    full_env = {**os.environ, **(env or {}), TOKEN_ENV: token}
    log_path = log_path or Path(tempfile.gettempdir()) / "imagintalk-panel.log"
    with log_path.open("w", encoding="utf-8") as log:
        try:
            process = subprocess.Popen(
                [*command, "--link"],
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        except OSError as error:
            raise LinkError(f"cannot start the ImaginTalk panel ({command[0]}): {error}") from None
    lines: queue.Queue[str] = queue.Queue()
    drainer = threading.Thread(target=_drain, args=(process, lines), daemon=True)
    drainer.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            if process.poll() is not None:
                drainer.join(1.0)  # what it printed before exiting may still be in the pipe
                if lines.empty():
                    raise LinkError(
                        f"the ImaginTalk panel did not start: {_tail(log_path)}"
                    ) from None
            continue
        if line.startswith(READY_PREFIX):
            return process, int(line[len(READY_PREFIX) :].strip())
    process.kill()
    raise LinkError(f"the ImaginTalk panel did not start within {timeout:.0f} s (see {log_path})")


def _drain(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    """Read the panel's stdout to the end, so it never blocks on a full pipe."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)


def _tail(log_path: Path) -> str:
    try:
        with log_path.open(encoding="utf-8", errors="replace") as log:
            tail = [line.strip() for line in log if line.strip()][-3:]
    except OSError:
        tail = []
    return " | ".join(tail) or f"it exited at once (log: {log_path})"


CONFIG_FILE = "imagintalk_config.json"
PANEL_COMMAND_ENV = "IMAGINTALK_PANEL_COMMAND"  # a JSON list; overrides the installed config


def panel_command(bridge_folder: Path) -> list[str]:
    """The command that starts the panel: `$IMAGINTALK_PANEL_COMMAND` (a JSON list) when set,
    else the one `imagintalk install-host` wrote into `bridge_folder/imagintalk_config.json`."""
    override = os.environ.get(PANEL_COMMAND_ENV)
    if override:
        command = json.loads(override)
    else:
        path = Path(bridge_folder) / CONFIG_FILE
        try:
            command = json.loads(path.read_text(encoding="utf-8"))["panel_command"]
        except (OSError, ValueError, KeyError):
            raise LinkError(
                f"no ImaginTalk install found ({path} is missing or unreadable): "
                "run `imagintalk install-host` again"
            ) from None
    if not (isinstance(command, list) and command and all(isinstance(c, str) for c in command)):
        raise LinkError("the ImaginTalk panel command is not a list of strings")
    return command


def save_session(path: Path, port: int, token: str) -> None:
    """Remember a running panel (port and token) so a later bridge run can find it; the file is
    readable by this user only, since the token is a secret."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    path.chmod(0o600)  # the mode above applies to a new file only
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"port": port, "token": token, "protocol": PROTOCOL_VERSION}, handle)


def start_panel(
    command: Sequence[str], session_path: Path, host_name: str, log_path: Path | None = None
) -> tuple[LinkConnection, subprocess.Popen[str]]:
    """Start a panel with a fresh token, connect to it and remember it in `session_path` (for
    `find_session`); returns the link and the panel process."""
    token = new_token()
    process, port = launch_panel(command, token, log_path=log_path)
    link = connect(port, token, host_name)
    save_session(session_path, port, token)
    return link, process


def find_session(path: Path, host_name: str, timeout: float = 2.0) -> LinkConnection | None:
    """A link to the panel a session file names, or None when there is none or it is gone."""
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
        port, token = int(info["port"]), str(info["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        return connect(port, token, host_name, timeout=timeout)
    except LinkError:
        return None
