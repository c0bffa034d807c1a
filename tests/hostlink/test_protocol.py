"""The host link without Qt: line framing, the token check, localhost-only binding, heartbeats,
replacing a host, the connect deadline, launching a panel process, the bridge's config and
session files. Timeouts are shrunk so the whole file runs in a few seconds."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from imagintalk_plugin.hostlink import protocol, server
from imagintalk_plugin.hostlink.protocol import LinkClosedError, LinkError, MessageReader
from imagintalk_plugin.hostlink.server import LinkServer

TOKEN = "secret-token"


class Recorder:
    """What a server reported, filled from its thread."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.gone: list[str] = []
        self._lock = threading.Lock()

    def message(self, message: dict) -> None:
        with self._lock:
            self.messages.append(message)

    def host_gone(self, reason: str) -> None:
        with self._lock:
            self.gone.append(reason)

    def kinds(self) -> list[str]:
        with self._lock:
            return [m["type"] for m in self.messages]


def wait_for(condition: Callable[[], object], timeout: float = 5.0, poll=None) -> None:
    """Wait until `condition()` holds, calling `poll` (a host's heartbeat) meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if poll is not None:
            poll()
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture
def make_server() -> Iterator[Callable[..., tuple[LinkServer, Recorder]]]:
    servers: list[LinkServer] = []

    def make(**kwargs) -> tuple[LinkServer, Recorder]:
        recorder = Recorder()
        link = LinkServer(TOKEN, recorder.message, recorder.host_gone, **kwargs)
        servers.append(link)
        return link, recorder

    yield make
    for link in servers:
        link.close()


# framing ---------------------------------------------------------------------------------------
def test_messages_split_across_feeds_are_joined() -> None:
    data = protocol.encode({"type": "open", "timeline": "/a b/é.otio"}) + protocol.encode(
        {"type": "ping"}
    )
    reader = MessageReader()
    got = []
    for i in range(len(data)):  # one byte at a time, a multi-byte character split too
        got.extend(reader.feed(data[i : i + 1]))
    assert got == [{"type": "open", "timeline": "/a b/é.otio"}, {"type": "ping"}]
    assert MessageReader().feed(b'\n{"type":"a"}\n\n{"type":"b"}\n{"ty') == [
        {"type": "a"},
        {"type": "b"},
    ]


def test_oversize_lines_are_refused(monkeypatch) -> None:
    monkeypatch.setattr(protocol, "MAX_MESSAGE", 64)
    with pytest.raises(LinkError, match="64-byte limit"):
        protocol.encode({"type": "x", "pad": "a" * 64})
    with pytest.raises(LinkError, match="limit"):
        MessageReader().feed(b'{"type":"x","pad":"' + b"a" * 80)  # no newline yet
    with pytest.raises(LinkError, match="limit"):
        MessageReader().feed(b'{"type":"x","pad":"' + b"a" * 80 + b'"}\n')  # complete, too long
    assert MessageReader().feed(protocol.encode({"type": "x", "pad": "a" * 40})) != []


@pytest.mark.parametrize("line", [b"[1, 2]\n", b'"hello"\n', b'{"kind": "open"}\n', b"{no json\n"])
def test_anything_but_an_object_with_a_type_is_refused(line: bytes) -> None:
    with pytest.raises(LinkError, match="malformed message"):
        MessageReader().feed(line)


def _refusal(port: int, first: bytes) -> str:
    """Connect with a raw socket, send `first`, and read to the close: the error's reason."""
    with socket.create_connection((protocol.LOCALHOST, port), timeout=10) as raw:
        raw.sendall(first)
        data = b""
        while chunk := raw.recv(4096):
            data += chunk
    messages = [m for m in MessageReader().feed(data) if m["type"] != "ping"]
    assert [m["type"] for m in messages] == ["error"]
    return messages[0]["reason"]


# the token check -------------------------------------------------------------------------------
def test_a_wrong_token_is_refused_and_the_host_keeps_its_link(make_server) -> None:
    link, seen = make_server()
    host = protocol.connect(link.port, TOKEN, "Blender")
    with pytest.raises(LinkError, match="wrong link token"):
        protocol.connect(link.port, "not-the-token", "Intruder")
    old = {"type": "hello", "token": TOKEN, "host": "Old", "protocol": 0}
    assert _refusal(link.port, protocol.encode(old)).startswith("protocol 0 is not supported")
    host.send({"type": "cancel"})
    wait_for(lambda: "cancel" in seen.kinds(), poll=host.poll)
    link.send({"type": "progress", "done": 1, "total": 2})
    assert host.wait("progress", 5)["done"] == 1
    assert seen.kinds() == ["hello", "cancel"]
    assert seen.messages[0] == {"type": "hello", "host": "Blender", "protocol": 1}  # no token
    assert seen.gone == []
    assert link.host_name == "Blender"
    host.close()


def test_a_connection_without_hello_is_closed(make_server, monkeypatch) -> None:
    monkeypatch.setattr(server, "HELLO_TIMEOUT_S", 0.3)
    link, seen = make_server()
    assert _refusal(link.port, b"") == "no hello within 0.3 s"
    assert (
        _refusal(link.port, b'{"type": "open"}\n')
        == "the first message must be 'hello', not 'open'"
    )
    assert _refusal(link.port, b"[1]\n").startswith("malformed message")
    assert seen.messages == []
    assert seen.gone == []


def _other_local_address() -> str | None:
    """An address of this machine that is not loopback, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a UDP "connect" sends nothing; it picks a route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_the_server_listens_on_localhost_only(make_server) -> None:
    link, _seen = make_server()
    assert link.address == ("127.0.0.1", link.port)
    other = _other_local_address()
    if other is None:
        pytest.skip("this machine has no non-loopback address to try")
    with pytest.raises((ConnectionRefusedError, TimeoutError)):
        socket.create_connection((other, link.port), timeout=2).close()


# heartbeats, replacing, deadlines --------------------------------------------------------------
def test_a_silent_host_is_reported_gone_after_the_timeout(make_server) -> None:
    link, seen = make_server(heartbeat_timeout=0.5)
    host = protocol.connect(link.port, TOKEN, "Blender", heartbeat_timeout=0.5)
    started = time.monotonic()
    wait_for(lambda: seen.gone)  # the host never polls, so it never pings back
    assert 0.4 < time.monotonic() - started < 3.0
    assert seen.gone == ["Blender: no word from the other side for 0.5 s"]
    assert not link.connected
    host.close()


def test_a_host_hears_a_silent_panel_is_gone() -> None:
    with socket.socket() as listener:
        listener.bind((protocol.LOCALHOST, 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname(), timeout=5)
        peer, _ = listener.accept()
        with peer:
            link = protocol.LinkConnection(client, timeout=0.3)
            assert link.poll() == []
            time.sleep(0.4)
            with pytest.raises(LinkClosedError, match="no word from the other side"):
                link.poll()
            with pytest.raises(LinkClosedError):  # and it stays closed
                link.send({"type": "cancel"})


def test_messages_before_a_bye_are_kept() -> None:
    left, right = socket.socketpair()
    with right:
        link = protocol.LinkConnection(left)
        right.sendall(protocol.encode({"type": "placed", "placed": ["V1-001"]}))
        right.sendall(protocol.encode({"type": "bye"}))
        time.sleep(0.05)
        assert link.poll() == [{"type": "placed", "placed": ["V1-001"]}]
        with pytest.raises(LinkClosedError, match="said goodbye"):
            link.poll()


def test_a_new_host_replaces_the_old_one_quietly(make_server) -> None:
    link, seen = make_server()
    first = protocol.connect(link.port, TOKEN, "Blender")
    second = protocol.connect(link.port, TOKEN, "Resolve")
    with pytest.raises(LinkClosedError, match="said goodbye"):
        wait_for(lambda: False, timeout=3.0, poll=first.poll)
    link.send({"type": "progress", "done": 0, "total": 1})
    assert second.wait("progress", 5)["total"] == 1
    time.sleep(0.2)
    assert seen.gone == []
    assert link.host_name == "Resolve"
    assert [m.get("host") for m in seen.messages] == ["Blender", "Resolve"]
    second.close(say_bye=True)
    wait_for(lambda: seen.gone)
    assert seen.gone == ["Resolve: the other side said goodbye"]


def test_host_gone_fires_when_no_host_connects_in_time(make_server) -> None:
    link, seen = make_server(connect_timeout=0.3)
    wait_for(lambda: seen.gone)
    assert seen.gone == ["no host connected within 0.3 s"]
    link.send({"type": "progress"})  # nobody to send to: dropped, no error
    time.sleep(0.2)
    assert len(seen.gone) == 1


def test_close_says_bye(make_server) -> None:
    link, _seen = make_server()
    host = protocol.connect(link.port, TOKEN, "Blender")
    wait_for(lambda: link.connected)  # `send` drops messages until the server has the host
    link.send({"type": "finished", "clip_id": "V1-001", "status": "done", "reason": ""})
    link.close()
    assert host.wait("finished", 5)["clip_id"] == "V1-001"  # what was queued still goes out
    with pytest.raises(LinkClosedError, match="said goodbye"):
        host.wait("anything", 5)


# launching a panel -----------------------------------------------------------------------------
FAKE_PANEL = textwrap.dedent(
    """
    import os, sys, time
    from imagintalk_plugin.hostlink.protocol import READY_PREFIX, TOKEN_ENV
    from imagintalk_plugin.hostlink.server import LinkServer
    assert sys.argv[-1] == "--link"
    gone = []
    link = LinkServer(os.environ[TOKEN_ENV], lambda m: None, gone.append, connect_timeout=30)
    print(READY_PREFIX + str(link.port), flush=True)
    while not gone:
        time.sleep(0.05)
    """
)


def test_launch_panel_returns_the_port_of_a_serving_panel(tmp_path: Path) -> None:
    token = protocol.new_token()
    process, port = protocol.launch_panel(
        [sys.executable, "-c", FAKE_PANEL], token, timeout=30, log_path=tmp_path / "panel.log"
    )
    try:
        host = protocol.connect(port, token, "Blender")
        host.close(say_bye=True)
        assert process.wait(10) == 0  # the fake panel ends when its host goes
    finally:
        process.kill()


def test_launch_panel_names_the_log_of_a_panel_that_exits(tmp_path: Path) -> None:
    crash = "import sys; sys.stderr.write('starting\\nno display: cannot open xcb\\n'); sys.exit(3)"
    tail = re.escape("did not start: starting | no display: cannot open xcb")
    with pytest.raises(LinkError, match=tail):
        protocol.launch_panel(
            [sys.executable, "-c", crash], "t", timeout=30, log_path=tmp_path / "p.log"
        )
    with pytest.raises(LinkError, match="cannot start the ImaginTalk panel"):
        protocol.launch_panel([str(tmp_path / "no-such-python")], "t", log_path=tmp_path / "p.log")


# the bridge's files ----------------------------------------------------------------------------
def test_panel_command_reads_the_config_and_the_env_override(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(protocol.PANEL_COMMAND_ENV, raising=False)
    with pytest.raises(LinkError, match="imagintalk install-host"):
        protocol.panel_command(tmp_path)
    command = ["/opt/imagintalk/bin/python", "-m", "imagintalk_plugin.ui"]
    (tmp_path / protocol.CONFIG_FILE).write_text(json.dumps({"panel_command": command}))
    assert protocol.panel_command(tmp_path) == command
    monkeypatch.setenv(protocol.PANEL_COMMAND_ENV, json.dumps(["python3", "-m", "x"]))
    assert protocol.panel_command(tmp_path) == ["python3", "-m", "x"]
    monkeypatch.setenv(protocol.PANEL_COMMAND_ENV, json.dumps("python3 -m x"))
    with pytest.raises(LinkError, match="not a list of strings"):
        protocol.panel_command(tmp_path)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_sessions_are_private_and_dead_ones_are_not_found(make_server, tmp_path: Path) -> None:
    path = tmp_path / "state" / "session.json"
    path.parent.mkdir()
    path.write_text("{}")
    path.chmod(0o644)  # an older file with a looser mode is tightened
    link, _seen = make_server()
    protocol.save_session(path, link.port, TOKEN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["port"] == link.port
    found = protocol.find_session(path, "Blender")
    assert found is not None
    found.close()
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind((protocol.LOCALHOST, 0))
        dead_port = probe.getsockname()[1]
    protocol.save_session(path, dead_port, TOKEN)
    assert protocol.find_session(path, "Blender", timeout=1.0) is None
    assert protocol.find_session(tmp_path / "missing.json", "Blender") is None
