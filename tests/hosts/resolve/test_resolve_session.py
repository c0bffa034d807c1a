"""The whole bridge against a stand-in panel: open, place, placed, close."""

from __future__ import annotations

import json
import stat
import sys
import threading
from fractions import Fraction
from pathlib import Path

import pytest
from resolve_fake_panel import TRACK, FakePanel
from resolve_standin import MediaPoolItem, Project, Resolve, Timeline

from imagintalk_plugin.hostlink import protocol

HERE = Path(__file__).resolve().parent


def _resolve(version: str = "19", studio: bool = True) -> Resolve:
    rate = Fraction(24000, 1001)
    timeline = Timeline("Reel 1", rate, 86400)
    picture = MediaPoolItem("/media/A001.mov", rate, 1000)
    timeline.add_video_clip(1, picture, 0, 48, left=10)
    timeline.add_video_clip(1, picture, 72, 30, left=200)
    timeline.add_video_clip(2, picture, 10, 20)
    return Resolve(version, studio, Project("My Short: cut 3", [timeline]))


def _run_main(bridge, resolve, tmp_path: Path, lines: list[str]) -> int:
    """Run the bridge on a thread so a hang fails the test instead of blocking it."""
    result: list[int] = []
    worker = threading.Thread(
        target=lambda: result.append(
            bridge.main(
                resolve,
                session_path=tmp_path / "session.json",
                output_root=tmp_path / "ImaginTalk",
                poll_interval=0.02,
                out=lines.append,
            )
        ),
        daemon=True,
    )
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the bridge did not stop when the panel closed"
    return result[0]


def _audio_spans(resolve: Resolve) -> list[tuple[int, int]]:
    timeline = resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    spans = []
    for index in range(1, timeline.GetTrackCount("audio") + 1):
        spans += [(i.GetStart(), i.GetEnd()) for i in timeline.GetItemListInTrack("audio", index)]
    return sorted(spans)


def test_bridge_reuses_a_live_panel_and_answers_place_with_placed(bridge, tmp_path):
    token = protocol.new_token()
    panel = FakePanel(token)
    try:
        protocol.save_session(tmp_path / "session.json", panel.port, token)
        resolve = _resolve(studio=False)  # the free edition, run from the Scripts menu
        lines: list[str] = []
        assert _run_main(bridge, resolve, tmp_path, lines) == 0
    finally:
        panel.server.close()
    kinds = [m["type"] for m in panel.received]
    assert kinds == ["hello", "open", "placed"]
    hello, opened, placed = panel.received
    assert hello["host"] == "DaVinci Resolve 19.1.3.7"
    output_dir = tmp_path / "ImaginTalk" / "My_Short_cut_3"
    assert opened["output_dir"] == str(output_dir)
    assert opened["timeline"] == str(output_dir / "timelines" / "Reel_1.otio")
    assert opened["dub"] is False
    assert opened["host_name"] == "DaVinci Resolve 19.1.3.7"
    assert placed["placed"] == ["V1-001", "V1-002", "V2-001"]
    assert placed["failed"] == []
    assert _audio_spans(resolve) == [(86400, 86448), (86410, 86430), (86472, 86502)]
    assert any("using the panel that is already open" in line for line in lines)
    assert any("V1-001 lips" in line for line in lines)  # progress reaches the console
    assert any("placed 3 of 3" in line for line in lines)
    assert lines[-1] == "ImaginTalk: the panel closed; done"


def test_bridge_starts_the_panel_when_none_is_running(bridge, tmp_path, monkeypatch):
    results = tmp_path / "received.json"
    command = [sys.executable, str(HERE / "resolve_fake_panel.py"), str(results)]
    monkeypatch.setenv(protocol.PANEL_COMMAND_ENV, json.dumps(command))
    (tmp_path / "session.json").write_text('{"port": 1, "token": "stale"}', encoding="utf-8")
    resolve = _resolve()
    lines: list[str] = []
    assert _run_main(bridge, resolve, tmp_path, lines) == 0
    received = json.loads(results.read_text(encoding="utf-8"))
    assert [m["type"] for m in received] == ["hello", "open", "placed"]
    assert received[0]["host"] == "DaVinci Resolve Studio 19.1.3.7"
    assert received[2]["placed"] == ["V1-001", "V1-002", "V2-001"]
    session = json.loads((tmp_path / "session.json").read_text(encoding="utf-8"))
    assert session["port"] != 1
    if sys.platform != "win32":
        assert stat.S_IMODE((tmp_path / "session.json").stat().st_mode) == 0o600
    timeline = resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    assert timeline.GetTrackName("audio", 1) == TRACK
    assert any("starting the panel" in line for line in lines)


def test_a_panel_that_cannot_start_is_one_line(bridge, tmp_path, monkeypatch):
    command = [sys.executable, "-c", "import sys; sys.exit('no display')"]
    monkeypatch.setenv(protocol.PANEL_COMMAND_ENV, json.dumps(command))
    lines: list[str] = []
    assert _run_main(bridge, _resolve(), tmp_path, lines) == 1
    assert len(lines[-1].splitlines()) == 1
    assert lines[-1].startswith("ImaginTalk: the ImaginTalk panel failed to start")
    assert "no display" in lines[-1]


@pytest.mark.parametrize("reason", ["error", "malformed"])
def test_serve_reports_panel_errors_and_bad_place_messages(bridge, reason):
    session = sys.modules["imagintalk_resolve.session"]

    class Link:
        def __init__(self):
            self.sent = []
            self.polls = [
                [{"type": "error", "reason": "model missing"}]
                if reason == "error"
                else [{"type": "place", "placements": "nope"}]
            ]

        def poll(self):
            if not self.polls:
                raise session.link_protocol.LinkClosedError("bye")
            return self.polls.pop(0)

        def send(self, message):
            self.sent.append(message)

    link, lines = Link(), []
    session.serve(link, lambda placements: {}, lines.append, poll_interval=0)
    if reason == "error":
        assert lines[0] == "ImaginTalk panel: model missing"
    else:
        assert link.sent[0]["type"] == "placed"
        assert link.sent[0]["failed"][0]["reason"] == "malformed placements"
