"""ADR in the panel window: the line field edits the current clip's line, a take's notes are
shown (under the line, in the clip list, on the status line), the character field names the
selected clips' character, and a character is cast from the model's voice bank list; its clips
show the cast in place of their timbre controls and generate in the cast voice. (The model and
controller without Qt: tests/panel_model/test_adr.py.)"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from panel_fixtures import OFFLINE_CLIP, fake_speech
from panel_runs import run_clips
from PySide6.QtCore import Qt

from imagintalk_plugin.panel_model.state import ClipResult
from imagintalk_plugin.pipeline.voice_bank import add_voice
from imagintalk_plugin.ui import cast_controls
from imagintalk_plugin.ui.cast_controls import BANK, OWN, VOICE
from imagintalk_plugin.ui.clip_table import COLUMNS

LINE = "Where were you last night?"


def _model(checkpoint: Path, folder: Path) -> Path:
    """The tiny checkpoint (linked) with a voice bank of two voices."""
    folder.mkdir()
    for part in checkpoint.iterdir():
        (folder / part.name).symlink_to(part)
    for k, name in enumerate(("narrator", "villain")):
        voice = np.zeros(256, np.float32)
        voice[k * 4 : k * 4 + 4] = 0.5
        add_voice(folder, name, [folder / "unused.wav"], embed=lambda path, v=voice: v)
    return folder


def _type(qtbot, field, text: str) -> None:
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def test_the_line_field_edits_the_clips_line_and_shows_take_notes(qtbot, make_panel) -> None:
    window = make_panel()
    adr, controller = window.adr, window.controller
    window.clip_table.select(["V1-001"])
    assert adr.line.text() == ""
    assert adr.line.placeholderText().startswith("words from the lips")
    _type(qtbot, adr.line, LINE)
    assert controller.clip("V1-001").style.line == LINE
    assert controller.clip("V1-002").style.line is None  # the current clip only
    window.clip_table.select(["V1-002"])
    assert adr.line.text() == ""
    window.clip_table.select(["V1-001"])
    assert adr.line.text() == LINE

    request = controller.request("V1-001")  # a take that says it barely fits
    assert request is not None
    note = "the line is long for the clip: closest fit"
    speech = replace(fake_speech("V1-001"), notes=(note,))
    controller.started("V1-001")
    window._on_done(ClipResult("V1-001", request.take, request.style, None, speech))  # type: ignore[arg-type]
    assert adr.notes.isVisibleTo(window)
    assert note in adr.notes.text()
    assert note in window.statusBar().currentMessage()
    row = window.clip_table.table
    assert note in row.item(0, COLUMNS.index("Note")).text()
    assert note in window.style_panel.takes.item(0).toolTip()
    assert f'"{LINE[:20]}' in window.style_panel.takes.item(0).text()

    adr.line.clear()  # empty: the words from the lips again
    _type(qtbot, adr.line, "")
    assert controller.clip("V1-001").style.line is None


def test_casting_a_character_from_the_bank_list(
    qtbot, make_panel, checkpoint: Path, tmp_path: Path, monkeypatch
) -> None:
    window = make_panel(_model(checkpoint, tmp_path / "model"))
    adr, controller, style = window.adr, window.controller, window.style_panel
    bank = adr.cast.bank
    assert [bank.itemText(i) for i in range(bank.count())] == ["narrator", "villain"]
    window.clip_table.select(["V1-001"])
    assert not adr.cast.isEnabled()  # no character yet: nothing to cast
    assert style.timbre.isVisibleTo(window)

    window.clip_table.select(["V1-001", "V1-002"])
    _type(qtbot, adr.character.lineEdit(), "ALICE")
    assert [controller.clip(i).style.character for i in ("V1-001", "V1-002", OFFLINE_CLIP)] == [
        "ALICE",
        "ALICE",
        None,
    ]
    assert adr.cast.isEnabled()
    assert adr.cast_label.text() == "Cast of ALICE"
    name = window.clip_table.table.item(1, COLUMNS.index("Clip")).text()
    assert name.startswith("V1-002 · V1 · ALICE")  # the clip list shows each clip's character
    adr.cast.mode.setCurrentText(BANK)  # the first voice of the bank
    assert controller.casts == {"ALICE": "bank:narrator"}
    bank.setCurrentIndex(1)
    bank.activated.emit(1)
    assert controller.casts == {"ALICE": "bank:villain"}
    assert not style.timbre.isVisibleTo(window)  # the cast instead of the clip's timbre
    assert style.cast_note.text() == "ALICE's cast: bank:villain"
    window.clip_table.select(["V1-002"])  # every clip of ALICE shows it
    assert (adr.cast.mode.currentText(), bank.currentText()) == (BANK, "villain")
    assert adr.character.findText("ALICE") >= 0

    bad = tmp_path / "notes.wav"  # a refused cast: one line, the cast unchanged
    bad.write_text("not a recording\n" * 20)
    monkeypatch.setattr(
        cast_controls.QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), "")
    )
    adr.cast.mode.setCurrentText(VOICE)
    assert adr.cast.error.isVisibleTo(window)
    assert "not a WAV file" in adr.cast.error.text()
    assert "\n" not in adr.cast.error.text()
    assert controller.casts == {"ALICE": "bank:villain"}
    assert adr.cast.mode.currentText() == BANK

    run_clips(qtbot, window, ["V1-001"])  # the worker speaks in the cast voice
    take = controller.clip("V1-001").takes[-1]
    timbre = take.speech.take.settings["timbre"]
    assert (timbre["source"], timbre["character"], timbre["cast"]) == (
        "cast",
        "ALICE",
        "bank:villain",
    )
    assert "ALICE's cast voice (bank:villain)" in style.takes.item(0).text()

    window.clip_table.select(["V1-001"])
    adr.cast.mode.setCurrentText(OWN)  # back to each clip's own timbre
    assert controller.cast_of("ALICE") is None
    assert style.timbre.isVisibleTo(window)
