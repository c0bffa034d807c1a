"""The panel in link mode, as a host bridge drives it: `open` with `dub` runs every clip and
reports progress and one `finished` per clip, `place_request` (and the Place button) sends
placements in whole timeline frames, `placed` is summed up in the status bar, and the panel
closes when the host goes away. Once in-process with a fake host on the test's thread, once as
the real `python -m imagintalk_plugin.ui --link` process."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from panel_fixtures import FACE_CLIPS, RATE
from PySide6.QtCore import QSettings, Qt

from imagintalk_plugin.hostlink import protocol
from imagintalk_plugin.hostlink.protocol import LinkConnection
from imagintalk_plugin.panel_model.controller import PanelController
from imagintalk_plugin.panel_model.state import StyleSettings
from imagintalk_plugin.ui.app import main
from imagintalk_plugin.ui.host_link import HostLink
from imagintalk_plugin.ui.panel import PanelWindow

RUN_TIMEOUT_MS = 180_000  # generous: a training job may share the CPU
TOKEN = "panel-test-token"


class FakeHost:
    """A host bridge's side of the link, polled from the test's (GUI) thread."""

    def __init__(self, port: int) -> None:
        self.link: LinkConnection = protocol.connect(port, TOKEN, "Blender")
        self.received: list[dict] = []

    def of(self, kind: str) -> list[dict]:
        """Messages of one type received so far (polls first)."""
        if not self.link.closed:
            self.received.extend(self.link.poll())
        return [m for m in self.received if m["type"] == kind]


@pytest.fixture
def linked(qtbot, tmp_path: Path, checkpoint: Path) -> Iterator[tuple[PanelWindow, HostLink]]:
    store = QSettings(str(tmp_path / "panel.ini"), QSettings.Format.IniFormat)
    window = PanelWindow(PanelController(StyleSettings(steps=2)), store=store)
    qtbot.addWidget(window)
    window.settings_box.threads.setValue(1)  # leave the other core alone
    window.settings_box.use_checkpoint(checkpoint)
    window.show()
    link = HostLink(window, TOKEN)
    yield window, link
    link.close()
    window.host.shutdown()


def _wait(qtbot, condition: Callable[[], object], timeout: int = 30_000) -> None:
    qtbot.waitUntil(lambda: bool(condition()), timeout=timeout)


def test_a_host_dubs_places_and_closes_the_panel(qtbot, linked, scene, tmp_path) -> None:
    window, link = linked
    host = FakeHost(link.port)
    out = tmp_path / "from_blender"
    host.link.send(
        {
            "type": "open",
            "timeline": str(scene),
            "output_dir": str(out),
            "dub": True,
            "host_name": "Blender",
        }
    )
    _wait(qtbot, lambda: len(host.of("finished")) == 2, RUN_TIMEOUT_MS)
    finished = host.of("finished")
    assert [(m["clip_id"], m["status"]) for m in finished] == [(i, "done") for i in FACE_CLIPS]
    progress = host.of("progress")
    assert progress, "no progress reached the host"
    assert all(m["total"] == 2 and m["clip_id"] in FACE_CLIPS for m in progress)
    assert {"done", "stage", "fraction"} <= progress[-1].keys()
    assert "Blender" in window.windowTitle()
    assert link.badge.text() == "Linked to Blender"

    host.link.send({"type": "place_request"})
    _wait(qtbot, lambda: host.of("place"))
    placements = host.of("place")[0]["placements"]
    assert window.last_output == out / "scene_imagintalk.otio"
    assert [p["clip_id"] for p in placements] == list(FACE_CLIPS)
    for placement in placements:
        clip = window.controller.clip(placement["clip_id"]).ref
        record = clip.record_range
        assert placement["rate"] == float(RATE) == clip.timeline_fps
        assert placement["record_start"] == round(record.start_time.rescaled_to(RATE).value)
        assert placement["duration"] == round(record.duration.rescaled_to(RATE).value)
        assert Path(placement["audio_path"]).is_absolute()
        assert Path(placement["audio_path"]).is_file()
        assert (placement["take"], placement["track_name"]) == (1, "ImaginTalk Dialogue")
    assert [(p["record_start"], p["duration"]) for p in placements] == [(10, 30), (60, 30)]

    qtbot.mouseClick(window.place_button, Qt.MouseButton.LeftButton)  # the button, while linked
    _wait(qtbot, lambda: len(host.of("place")) == 2)
    assert window.last_output == out / "scene_imagintalk_2.otio"  # never over the first pass

    host.link.send(
        {
            "type": "placed",
            "placed": ["V1-001"],
            "failed": [{"clip_id": "V1-002", "reason": "the track is locked"}],
        }
    )
    expected = "Placed 1 take in Blender; 1 failed: V1-002: the track is locked"
    _wait(qtbot, lambda: window.statusBar().currentMessage() == expected)

    with qtbot.waitSignal(link.closed_by_host, timeout=30_000) as gone:
        host.link.close()
    assert gone.args[0].startswith("Blender: ")
    assert not window.isVisible()
    assert not link.server.connected


def test_what_cannot_be_done_is_a_one_line_error(qtbot, linked, scene, tmp_path) -> None:
    window, link = linked
    host = FakeHost(link.port)
    host.link.send({"type": "place_request"})
    _wait(qtbot, lambda: host.of("error"))
    assert host.of("error")[0]["reason"] == "open a timeline first"
    host.link.send({"type": "open", "timeline": str(tmp_path / "nothing.otio"), "dub": True})
    _wait(qtbot, lambda: len(host.of("error")) == 2)
    assert "nothing.otio" in host.of("error")[1]["reason"]
    host.link.send({"type": "open", "timeline": str(scene), "output_dir": str(tmp_path)})
    host.link.send({"type": "place_request"})
    _wait(qtbot, lambda: len(host.of("error")) == 3)
    reason = host.of("error")[2]["reason"]
    assert reason == "cannot place: no takes to place yet: run some clips first"
    assert window.controller.clip_ids()[:2] == list(FACE_CLIPS)
    assert not window.controller.busy()  # no dub asked: nothing runs
    assert host.of("finished") == []


def test_link_mode_needs_the_token(monkeypatch, capsys) -> None:
    monkeypatch.delenv(protocol.TOKEN_ENV, raising=False)
    assert main(["--link"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert protocol.TOKEN_ENV in err


@pytest.mark.slow  # a Python and Qt start-up: about 5 s
def test_the_panel_process_quits_when_its_host_goes(scene, checkpoint, tmp_path) -> None:
    token = protocol.new_token()
    command = [sys.executable, "-m", "imagintalk_plugin.ui", str(scene)]
    env = {"QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    log = tmp_path / "panel.log"
    process, port = protocol.launch_panel(
        [*command, "--checkpoint", str(checkpoint)], token, env=env, log_path=log
    )
    try:
        host = protocol.connect(port, token, "Blender")  # the welcome came back
        assert process.poll() is None
        host.close()
        assert process.wait(15) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
