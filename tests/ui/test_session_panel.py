"""The panel's saved session seen in the window: a new panel on the same timeline shows the takes,
circle and settings of the one closed before; a broken session file is a one-line note and the
panel opens fresh. (The session itself, without Qt: tests/panel_model/test_session.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from panel_fixtures import FACE_CLIPS, OFFLINE_CLIP
from panel_runs import run_clips as _run

from imagintalk_plugin.panel_model.session_store import SESSION_FILE
from imagintalk_plugin.panel_model.state import PENDING


def test_a_reopened_panel_shows_its_takes(qtbot, make_panel, scene: Path) -> None:
    window = make_panel()
    _run(qtbot, window, ["V1-001"])
    _run(qtbot, window, ["V1-001"], regenerate=True)
    window.clip_table.select(["V1-001"])
    window.style_panel.takes.setCurrentRow(0)
    window.style_panel.circle.click()
    window.clip_table.select(["V1-002"])
    window.style_panel.emotion.setCurrentText("sad")
    made = window.controller.clip("V1-001").takes[0].speech
    window.close()

    again = make_panel()
    state = again.controller.clip("V1-001")
    assert [(t.number, t.circled) for t in state.takes] == [(1, True), (2, False)]
    assert again.controller.clip("V1-002").style.emotion == "sad"
    assert "restored the takes of 1 clip(s)" in again.statusBar().currentMessage()
    assert again.clip_table.table.item(0, 5).text() == "2"  # the Takes column
    again.clip_table.select(["V1-001"])
    views = again.views
    assert views.showing_plots
    assert "take 1" in views.title.text()  # the circled take is inspected
    _x, y = views.items["units"].getData()
    np.testing.assert_array_equal(y, made.refined.tokens)
    assert len(views.items["waveform"].xData) == made.waveform.num_samples
    assert views.items["mouths"].image.shape[0] == 48  # the mouths saved with the take
    assert again.audition.audio_source() is not None
    assert again.style_panel.takes.item(0).text().startswith("● take 1")
    again.clip_table.select([OFFLINE_CLIP])
    assert not views.showing_plots


def test_a_broken_session_still_opens_the_panel(qtbot, make_panel, scene: Path) -> None:
    folder = scene.parent / "scene.imagintalk"
    folder.mkdir()
    (folder / SESSION_FILE).write_bytes(b"\x00\x01 garbage")
    window = make_panel()
    line = window.statusBar().currentMessage()
    assert "unreadable" in line
    assert "set aside" in line
    assert "\n" not in line
    assert [window.controller.clip(i).status for i in FACE_CLIPS] == [PENDING, PENDING]
    window.clip_table.select([FACE_CLIPS[0]])
    assert window.views.empty.text().startswith(f"{FACE_CLIPS[0]}: no take yet")
