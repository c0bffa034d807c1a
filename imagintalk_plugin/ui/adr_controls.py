"""ADR for the current clip: its known line, its character and that character's cast voice.

- **Line**: what the clip says, typed or pasted from the script (a timeline's `line:` markers
  or saved lines fill it when it opens). Empty: the words are read from the lips. An edit
  applies to the current clip only, once the field is left or Enter pressed.
- **Character**: who speaks (the clip's speaker label, or the character saved in the timeline);
  pick one of the timeline's characters or type a new one. An edit applies to every selected
  clip, so a scene's clips are given one character at once.
- **Cast**: the voice of that character, for every clip of it (`cast_controls`); the clip's
  own timbre controls stand in while the character is not cast.
- **Notes**: what the shown take's generation said (a line too long for its clip), in amber.

Like the clip list, the box follows the controller (`cast` and `timeline` events) and calls
its methods; a refused edit comes back as a one-line message under the row.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QWidget

from imagintalk_plugin.core.errors import ImagintalkError
from imagintalk_plugin.panel_model.controller import PanelController
from imagintalk_plugin.panel_model.state import OFFLINE, PanelEvent, Take
from imagintalk_plugin.ui.cast_controls import CastControls

NOTES_STYLE = "color:#ffa000;"
NO_CHARACTER = "no character: the clip's own voice"


class AdrControls(QGroupBox):
    """The current clip's line, character and cast, and the shown take's notes."""

    def __init__(self, controller: PanelController, parent: QWidget | None = None) -> None:
        super().__init__("ADR: line and voice", parent)
        self.controller = controller
        self.line = QLineEdit()
        self.line.setPlaceholderText("words from the lips; type the script's line")
        self.line.setClearButtonEnabled(True)
        self.line.setToolTip("the clip says this line, in time with the lips (empty: lip-read)")
        self.character = QComboBox()
        self.character.setEditable(True)
        self.character.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.character.lineEdit().setPlaceholderText(NO_CHARACTER)
        self.character.setToolTip("who speaks: every clip of a character gets its cast voice")
        self.cast = CastControls()
        self.cast_label = QLabel("Cast")
        self.notes = QLabel()
        self.notes.setStyleSheet(NOTES_STYLE)
        self.notes.setWordWrap(True)
        self.notes.hide()
        form = QFormLayout(self)
        form.addRow("Line", self.line)
        form.addRow("Character", self.character)
        form.addRow(self.cast_label, self.cast)
        form.addRow(self.notes)
        self._clip = ""  # the current clip
        self._selected: list[str] = []
        self.line.editingFinished.connect(self._line_done)
        self.character.lineEdit().editingFinished.connect(self._character_done)
        self.character.activated.connect(lambda _index: self._character_done())
        self.cast.edited.connect(self._cast_edited)
        controller.subscribe(self._on_event)
        self.show_clip("", [])

    # following the controller ----------------------------------------------------------------
    def _on_event(self, event: PanelEvent) -> None:
        if event.kind == "timeline":
            sources = [
                (i, f"{i}  {c.ref.name}")
                for i, c in self.controller.clips.items()
                if c.status != OFFLINE
            ]
            self.cast.set_sources(sources)
            self.show_clip("", [])
        elif event.kind == "cast" or (event.kind == "style" and event.clip_id == self._clip):
            self.show_clip(self._clip, self._selected)

    def use_model(self, folder: Path) -> str:
        """List the voice bank of the model in `folder`; returns why it cannot ("" when it
        can)."""
        try:
            names = self.controller.use_voice_bank(folder)
        except ImagintalkError as err:
            self.cast.set_bank([])
            return str(err)
        self.cast.set_bank(names)
        return ""

    def show_clip(self, clip_id: str, selected: list[str], take: Take | None = None) -> None:
        """Show clip `clip_id`'s line, character and cast ("" for none), and `take`'s notes;
        a character edit applies to `selected`."""
        self._clip, self._selected = clip_id, selected
        state = self.controller.clips.get(clip_id)
        self.setEnabled(state is not None)
        style = state.style if state is not None else None
        if not self.line.hasFocus():  # never under the editor's cursor
            self.line.setText(style.line or "" if style else "")
            self.line.setToolTip(style.line or "" if style else "")
        character = style.character if style else None
        self.character.blockSignals(True)
        self.character.clear()
        self.character.addItems(self.controller.characters())
        self.character.setEditText(character or "")
        self.character.blockSignals(False)
        self.cast_label.setText(f"Cast of {character}" if character else "Cast")
        self.cast.setEnabled(character is not None)
        self.cast.setToolTip("" if character else "give the clip a character to cast its voice")
        self.cast.show_cast(self.controller.casts.get(character or ""))
        notes = take.notes if take is not None else ()
        self.notes.setText("\n".join(f"take {take.number}: {n}" for n in notes) if take else "")
        self.notes.setVisible(bool(notes))

    # editing ---------------------------------------------------------------------------------
    def _line_done(self) -> None:
        state = self.controller.clips.get(self._clip)
        if state is None or (" ".join(self.line.text().split()) or None) == state.style.line:
            return
        self.controller.set_line(self._clip, self.line.text())

    def _character_done(self) -> None:
        state = self.controller.clips.get(self._clip)
        text = " ".join(self.character.currentText().split()) or None
        if state is None or text == state.style.character:
            return
        self.controller.set_style(self._selected or [self._clip], character=text)

    def _cast_edited(self, cast: str) -> None:
        state = self.controller.clips.get(self._clip)
        if state is None or state.style.character is None:
            return
        try:
            self.controller.set_cast(state.style.character, cast)
        except ImagintalkError as err:
            path = cast.partition(":")[2] if cast.startswith("voice:") else ""
            line = str(err).replace(path, Path(path).name) if path else str(err)
            self.cast.show_error(line)
        else:
            self.cast.show_error("")
