"""The panel's end of the host link: a localhost server for one host bridge at a time.

Standard library only (no Qt, no torch), so it is tested on its own and the Qt side
(`ui/host_link.py`) stays a thin adapter. One daemon thread owns every socket: it accepts
connections, runs the hello/token check of new ones, polls the current host's
`LinkConnection` (heartbeat included) and sends what `send` queued from other threads, so no
socket is ever touched by two threads.

Rules, from the host bridges' needs: a new connection has `HELLO_TIMEOUT_S` to send a hello with
the right token and protocol, else it gets an `error` and is closed, and the current host never
notices. An authenticated new host replaces the current one (a bridge run again after the
editor restarted its script): the old one gets `bye`. `on_host_gone` fires when the current
host leaves (closed, bye, silent for the heartbeat timeout, or malformed) and none replaces it,
and when no host authenticates within `connect_timeout` of the start; the panel then closes.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from imagintalk_plugin.hostlink import protocol
from imagintalk_plugin.hostlink.protocol import LinkClosedError, LinkConnection, LinkError

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 5.0  # a new connection's time to authenticate
MAX_PENDING = 8  # connections not yet authenticated; more are refused at once
TICK_S = 0.05  # the server thread's longest sleep (heartbeat and deadline checks)

Message = dict[str, Any]


@dataclass
class _Pending:
    """A connection that has not sent its hello yet."""

    link: LinkConnection
    sock: socket.socket
    deadline: float


class LinkServer:
    """Listens on 127.0.0.1 (a free port) and serves one authenticated host at a time.

    `on_message(message)` and `on_host_gone(reason)` are called on the server's own thread;
    the current host's first message delivered is its `hello` (token removed), then every
    message but pings and `bye`. `send` and `close` may be called from any thread.
    """

    def __init__(
        self,
        token: str,
        on_message: Callable[[Message], None],
        on_host_gone: Callable[[str], None],
        connect_timeout: float = 60.0,
        heartbeat_timeout: float = protocol.TIMEOUT_S,
    ) -> None:
        if not token:
            raise ValueError("the link token is empty")
        self._token = token.encode("utf-8")
        self._on_message = on_message
        self._on_host_gone = on_host_gone
        self._connect_timeout = connect_timeout
        self._heartbeat_timeout = heartbeat_timeout
        self._connect_deadline: float | None = time.monotonic() + connect_timeout
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._listener.bind((protocol.LOCALHOST, 0))
            self._listener.listen(MAX_PENDING)
        except OSError:
            self._listener.close()
            raise
        self._listener.setblocking(False)
        self._listener_address: tuple[str, int] = self._listener.getsockname()
        self._port = self._listener_address[1]
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._wake_in, selectors.EVENT_READ)
        self._outbox: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._pending: list[_Pending] = []
        self._host: LinkConnection | None = None
        self._host_sock: socket.socket | None = None
        self._host_name = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="imagintalk-link", daemon=True)
        self._thread.start()

    # the public side (any thread) ------------------------------------------------------------
    @property
    def port(self) -> int:
        """The port on 127.0.0.1 the server listens on."""
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the server is bound to: always 127.0.0.1."""
        return self._listener_address

    @property
    def host_name(self) -> str:
        """The current host's name from its hello ("" when none is linked)."""
        return self._host_name if self._host is not None else ""

    @property
    def connected(self) -> bool:
        """Whether a host is linked now."""
        return self._host is not None

    def send(self, message: Message) -> None:
        """Queue a message for the current host; dropped (with a warning) when none is linked."""
        if self._host is None or self._stop.is_set():
            log.warning("no host linked: dropped a '%s' message", message.get("type"))
            return
        self._outbox.put(message)
        self._wake()

    def close(self) -> None:
        """Say bye to the host, stop the thread and free the port; safe to call twice."""
        self._stop.set()
        self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(5.0)

    def __enter__(self) -> LinkServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _wake(self) -> None:
        # OSError: the pipe is full (the thread is awake anyway) or closed (it has stopped)
        with contextlib.suppress(OSError):
            self._wake_out.send(b"!")

    # the server thread -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for key, _events in self._selector.select(TICK_S):
                    if key.fileobj is self._listener:
                        self._accept()
                    elif key.fileobj is self._wake_in:
                        self._drain_wake()
                self._check_pending()
                self._flush_outbox()
                self._poll_host()
                self._check_connect_deadline()
        except Exception:  # a bug here must not pass silently: the panel would hang linked
            log.exception("the host link server failed")
            self._host_gone("the link server failed (see the log)")
        finally:
            self._shut_down()

    def _drain_wake(self) -> None:
        try:
            while self._wake_in.recv(4096):
                pass
        except OSError:
            pass

    def _accept(self) -> None:
        while True:
            try:
                sock, _address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                log.warning("host link: accept failed: %s", error)
                return
            link = LinkConnection(sock, 2 * HELLO_TIMEOUT_S)  # the hello deadline comes first
            pending = _Pending(link, sock, time.monotonic() + HELLO_TIMEOUT_S)
            if len(self._pending) >= MAX_PENDING:
                self._refuse(pending, "too many connections waiting to authenticate")
                continue
            self._pending.append(pending)
            self._selector.register(sock, selectors.EVENT_READ)

    def _check_pending(self) -> None:
        for pending in list(self._pending):
            try:
                messages = pending.link.poll()
            except LinkClosedError:
                self._forget(pending)
                continue
            except LinkError as error:  # malformed
                self._refuse(pending, str(error))
                continue
            if not messages:
                if time.monotonic() > pending.deadline:
                    self._refuse(pending, f"no hello within {HELLO_TIMEOUT_S:g} s")
                continue
            reason = self._hello_problem(messages[0])
            if reason:
                self._refuse(pending, reason)
            else:
                self._pending.remove(pending)
                self._promote(pending, messages[0], messages[1:])

    def _hello_problem(self, hello: Message) -> str:
        """Why a first message does not open a link ("" when it does)."""
        if hello.get("type") != "hello":
            return f"the first message must be 'hello', not '{hello.get('type')}'"
        token = hello.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode("utf-8"), self._token
        ):
            return "wrong link token"
        version = hello.get("protocol")
        if version != protocol.PROTOCOL_VERSION:
            return (
                f"protocol {version!r} is not supported "
                f"(this panel speaks {protocol.PROTOCOL_VERSION}): update the host bridge"
            )
        return ""

    def _refuse(self, pending: _Pending, reason: str) -> None:
        log.warning("host link: refused a connection: %s", reason)
        with contextlib.suppress(LinkError):
            pending.link.send({"type": "error", "reason": reason})
        self._forget(pending)

    def _forget(self, pending: _Pending) -> None:
        if pending in self._pending:
            self._pending.remove(pending)
        self._unregister(pending.sock)
        pending.link.close()

    def _unregister(self, sock: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    def _promote(self, pending: _Pending, hello: Message, rest: list[Message]) -> None:
        """An authenticated connection becomes the host; the one before it is sent bye."""
        link = pending.link
        link.timeout = self._heartbeat_timeout
        try:
            link.send({"type": "welcome", "protocol": protocol.PROTOCOL_VERSION})
        except LinkClosedError:
            self._unregister(pending.sock)
            return
        name = str(hello.get("host") or "host")
        if self._host is not None:
            self._flush_outbox(replacing=True)  # what was queued so far was for the old host
            log.info("host link: %s replaces %s", name, self._host_name)
            self._drop_host(say_bye=True)
        else:
            log.info("host link: %s linked", name)
        self._host, self._host_sock, self._host_name = link, pending.sock, name
        self._connect_deadline = None
        self._deliver({"type": "hello", "host": name, "protocol": hello.get("protocol")})
        for message in rest:
            self._deliver(message)

    def _drop_host(self, say_bye: bool) -> None:
        if self._host_sock is not None:
            self._unregister(self._host_sock)
        if self._host is not None:
            self._host.close(say_bye=say_bye)
        self._host = self._host_sock = None

    def _host_gone(self, reason: str) -> None:
        """The current host left and nothing replaced it."""
        name = self._host_name or "host"
        self._drop_host(say_bye=False)
        dropped = 0
        while True:
            try:
                self._outbox.get_nowait()
            except queue.Empty:
                break
            dropped += 1
        if dropped:
            log.warning("host link: %d message(s) for the gone host dropped", dropped)
        log.info("host link: %s is gone: %s", name, reason)
        try:
            self._on_host_gone(f"{name}: {reason}")
        except Exception:
            log.exception("host link: on_host_gone failed")

    def _deliver(self, message: Message) -> None:
        try:
            self._on_message(message)
        except Exception:  # the server keeps serving whatever a handler does
            log.exception("host link: handling a '%s' message failed", message.get("type"))

    def _flush_outbox(self, replacing: bool = False) -> None:
        """Send what `send` queued; with `replacing`, a failure is no reason to report the
        host gone (a new one is taking its place)."""
        while True:
            try:
                message = self._outbox.get_nowait()
            except queue.Empty:
                return
            if self._host is None:
                log.warning("no host linked: dropped a '%s' message", message.get("type"))
                continue
            try:
                self._host.send(message)
            except LinkClosedError as error:
                if not replacing:
                    self._host_gone(str(error))
            except LinkError as error:  # too large: that message only
                log.warning("host link: cannot send a '%s': %s", message.get("type"), error)

    def _poll_host(self) -> None:
        if self._host is None:
            return
        try:
            messages = self._host.poll()
        except LinkClosedError as error:
            self._host_gone(str(error))
            return
        except LinkError as error:  # malformed: the link cannot be trusted any more
            with contextlib.suppress(LinkError):
                self._host.send({"type": "error", "reason": str(error)})
            self._host_gone(f"it sent a bad message ({error})")
            return
        for message in messages:
            self._deliver(message)

    def _check_connect_deadline(self) -> None:
        if self._connect_deadline is None or self._host is not None:
            return
        if time.monotonic() > self._connect_deadline:
            self._connect_deadline = None
            reason = f"no host connected within {self._connect_timeout:g} s"
            log.info("host link: %s", reason)
            try:
                self._on_host_gone(reason)
            except Exception:
                log.exception("host link: on_host_gone failed")

    def _shut_down(self) -> None:
        self._flush_outbox()
        self._drop_host(say_bye=True)
        for pending in list(self._pending):
            self._forget(pending)
        self._selector.close()
        for sock in (self._listener, self._wake_in, self._wake_out):
            sock.close()
