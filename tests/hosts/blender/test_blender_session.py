"""The operators and the link session against a stand-in panel (real protocol, no models)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import bpy
import pytest
from blender_main_venv import MAIN_PYTHON
from blender_scenes import add_movie, new_scene, sound_strips

FAKE_PANEL = Path(__file__).with_name("fake_panel.py")


@pytest.fixture
def fake_panel(bridge, session_file, monkeypatch, tmp_path):
    """Bridge runs start the stand-in panel; returns where it writes the `placed` it receives."""
    monkeypatch.setenv("IMAGINTALK_PANEL_COMMAND", json.dumps([str(MAIN_PYTHON), str(FAKE_PANEL)]))
    report = tmp_path / "panel_heard.json"
    monkeypatch.setenv("FAKE_PANEL_REPORT", str(report))
    return report


def poll_until(bridge, condition, timeout=60.0):
    """Run the session's timer function until `condition()` holds (timers do not fire in
    background mode)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bridge.session.poll()
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out; the session says: {bridge.session.STATE.status}")


def _scene(media, tmp_path):
    scene = new_scene("dubbing", 25, frame_start=1)
    add_movie(scene, "face 1", media["25"], channel=1, frame=1).select = True
    add_movie(scene, "face 2", media["25"], channel=2, frame=61).select = True
    add_movie(scene, "not me", media["25"], channel=1, frame=200)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "edit.blend"))
    return bpy.data.scenes["dubbing"]


def test_dub_selected_then_place(bridge, media, fake_panel, tmp_path):
    scene = _scene(media, tmp_path)
    state = bridge.session.STATE
    assert bpy.ops.imagintalk.dub_selected() == {"FINISHED"}
    assert state.connecting
    poll_until(bridge, lambda: len(state.finished) == 2)
    assert state.finished == {
        "V1-001": {"status": "done", "reason": ""},
        "V2-001": {"status": "done", "reason": ""},
    }
    assert state.progress["clip_id"] == "V2-001"
    assert (tmp_path / "imagintalk" / "dubbing.otio").is_file()  # beside the .blend

    assert bpy.ops.imagintalk.place_takes() == {"FINISHED"}
    poll_until(bridge, lambda: bool(state.report))
    assert state.report == {"placed": ["V1-001", "V2-001"], "failed": []}
    scene = bpy.data.scenes["dubbing"]
    got = [(s.channel, s.frame_final_start, s.frame_final_duration) for s in sound_strips(scene)]
    assert got == [(3, 1, 50), (3, 61, 50)]  # under "face 1" and "face 2", one new channel
    poll_until(bridge, fake_panel.exists)
    heard = json.loads(fake_panel.read_text(encoding="utf-8"))
    assert heard["placed"] == ["V1-001", "V2-001"]

    # the live session is reused: no second panel process
    link, process = state.link, state.process
    assert bpy.ops.imagintalk.open_panel() == {"FINISHED"}
    assert not state.connecting
    assert (state.link, state.process) == (link, process)


def test_a_lost_session_finds_the_running_panel(bridge, media, fake_panel, tmp_path):
    _scene(media, tmp_path)
    state = bridge.session.STATE
    bpy.ops.imagintalk.open_panel()
    poll_until(bridge, bridge.session.is_linked)
    old_link = state.link
    state.link, state.process = None, None  # as if the add-on's module state were lost
    bpy.ops.imagintalk.open_panel()
    poll_until(bridge, bridge.session.is_linked)
    assert state.link is not old_link
    assert state.process is None  # found through the session file, not started again
    old_link.close()


def test_operators_report_failures(bridge, media, session_file, tmp_path):
    scene = new_scene("nothing", 25)
    add_movie(scene, "unselected", media["25"], channel=1, frame=1)
    with pytest.raises(RuntimeError, match="no selected movie strips"):
        bpy.ops.imagintalk.dub_selected()
    with pytest.raises(RuntimeError, match="no panel is connected"):
        bpy.ops.imagintalk.place_takes()
    with pytest.raises(RuntimeError, match="no panel is connected"):
        bpy.ops.imagintalk.cancel()


def test_no_install_config_is_reported(bridge, media, session_file, monkeypatch, tmp_path):
    monkeypatch.delenv("IMAGINTALK_PANEL_COMMAND", raising=False)
    config = Path(bridge.__file__).with_name("imagintalk_config.json")
    saved = config.read_text(encoding="utf-8")
    config.unlink()
    try:
        _scene(media, tmp_path)
        with pytest.raises(RuntimeError, match="install-host"):
            bpy.ops.imagintalk.open_panel()
    finally:
        config.write_text(saved, encoding="utf-8")


def test_a_panel_that_cannot_start_is_reported(bridge, media, fake_panel, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_PANEL_MODE", "crash")
    _scene(media, tmp_path)
    assert bpy.ops.imagintalk.dub_selected() == {"FINISHED"}  # starting is asynchronous
    state = bridge.session.STATE
    poll_until(bridge, lambda: not state.connecting)
    assert "no checkpoint found" in state.error
    assert state.link is None
    assert bridge.session.poll() is None  # nothing left to watch: the timer stops


def test_panel_errors_and_disconnects_are_kept(bridge, media, fake_panel, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_PANEL_MODE", "refuse")
    _scene(media, tmp_path)
    state = bridge.session.STATE
    bpy.ops.imagintalk.dub_selected()
    poll_until(bridge, lambda: bool(state.error))
    assert "cannot open this timeline" in state.error
    state.process.kill()
    poll_until(bridge, lambda: state.link is None, timeout=20.0)
    assert state.status.startswith("panel disconnected")
    with pytest.raises(RuntimeError, match="no panel is connected"):
        bpy.ops.imagintalk.place_takes()


def test_the_sidebar_and_the_operators_are_registered(bridge):
    assert hasattr(bpy.types, "IMAGINTALK_PT_sequencer")
    for name in ("dub_selected", "open_panel", "place_takes", "cancel"):
        assert hasattr(bpy.ops.imagintalk, name)


def test_odd_messages_never_stop_the_timer(bridge, media, session_file, tmp_path):
    """A panel's bad message becomes an error line; bad placements come back as failures."""
    new_scene("odd", 25)
    link_module = bridge.imagintalk_link
    ours, theirs = socket.socketpair()
    state = bridge.session.STATE
    state.link, state.scene_name = link_module.LinkConnection(ours), "odd"
    theirs.sendall(link_module.encode({"type": "progress", "fraction": "half"}))
    placement = {"clip_id": "V1-001", "audio_path": str(tmp_path / "gone.wav"), "rate": 25}
    theirs.sendall(link_module.encode({"type": "place", "placements": [placement, "junk"]}))
    assert bridge.session.poll() == bridge.session.POLL_S
    assert "progress" in state.error
    reasons = [(f["clip_id"], f["reason"].split(":")[0]) for f in state.report["failed"]]
    assert reasons == [
        ("V1-001", "placement lacks record_start, duration, track_name"),
        ("?", "not a placement"),
    ]
    reader = link_module.MessageReader()
    theirs.settimeout(5)
    answer = [m for m in reader.feed(theirs.recv(65536)) if m["type"] == "placed"]
    assert answer[0]["placed"] == []
    theirs.close()
    poll_until(bridge, lambda: state.link is None)
