"""A character's cast: each clip's own face, the face of a chosen clip, a recording, or a voice of
the model's voice bank.

One combo picks the kind; a clip picker, a bank picker or a file row appears under it. Picking
a recording opens a file dialog at once (cancelling keeps the cast as it was). An edit is
announced as the cast's text as `dub --cast` writes it (`own`, `face:V1-002`, `voice:/a.wav`,
`bank:NAME`); the controller checks it, and a refusal comes back as a one-line red message.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from imagintalk_plugin.ui.timbre_controls import AUDIO_FILTER, ERROR_STYLE

OWN, FACE, VOICE, BANK = (
    "each clip's own face",
    "the face of a clip",
    "a recording",
    "a voice of the model's bank",
)
MODES = (OWN, FACE, VOICE, BANK)
KINDS = {OWN: "own", FACE: "face", VOICE: "voice", BANK: "bank"}


class CastControls(QWidget):
    """The cast of the current clip's character; an edit casts every clip of it."""

    edited = Signal(str)  # the cast: "own", "face:CLIP_ID", "voice:WAV" or "bank:NAME"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.mode.setToolTip("the one voice every clip of this character speaks in")
        self.clip = QComboBox()
        self.clip.setToolTip("the clip whose face gives the character's voice")
        self.bank = QComboBox()
        self.bank.setToolTip("named voices of the model (`imagintalk voices add`)")
        self.file = QLabel()
        self.file.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.browse = QPushButton("…")
        self.browse.setMaximumWidth(32)
        self.browse.setToolTip("choose a recording of the character's voice (WAV, at least 1 s)")
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.error.hide()
        self.file_row = QWidget()
        row = QHBoxLayout(self.file_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.file, 1)
        row.addWidget(self.browse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for widget in (self.mode, self.clip, self.bank, self.file_row, self.error):
            layout.addWidget(widget)
        self._cast = "own"
        self._showing = False
        self.mode.currentTextChanged.connect(self._mode_changed)
        self.clip.activated.connect(lambda _index: self._picked(FACE, self.clip.currentData()))
        self.bank.activated.connect(lambda _index: self._picked(BANK, self.bank.currentText()))
        self.browse.clicked.connect(self.pick_file)
        self.show_cast(None)

    # showing ---------------------------------------------------------------------------------
    def set_sources(self, clips: list[tuple[str, str]]) -> None:
        """The clips whose face may be cast: (clip id, label) in timeline order."""
        self._fill(self.clip, clips)

    def set_bank(self, names: list[str]) -> None:
        """The names of the model's bank voices."""
        self._fill(self.bank, [(name, name) for name in names])

    def _fill(self, combo: QComboBox, items: list[tuple[str, str]]) -> None:
        self._showing = True
        try:
            combo.clear()
            for value, label in items:
                combo.addItem(label, value)
        finally:
            self._showing = False
        self.show_cast(self._cast)

    def show_cast(self, cast: str | None) -> None:
        """Show a cast (None or "own": each clip's own face); no edit is announced."""
        self._cast = cast or "own"
        kind, _, value = self._cast.partition(":")
        mode = next((m for m, k in KINDS.items() if k == kind), OWN)
        self._showing = True
        try:
            if mode == FACE:
                self.clip.setCurrentIndex(self.clip.findData(value))
            elif mode == BANK:
                self.bank.setCurrentIndex(self.bank.findText(value))
            elif mode == VOICE:
                self.file.setText(Path(value).name)
                self.file.setToolTip(value)
            self.mode.setCurrentText(mode)
            self.clip.setVisible(mode == FACE)
            self.bank.setVisible(mode == BANK)
            self.file_row.setVisible(mode == VOICE)
        finally:
            self._showing = False

    def show_error(self, message: str) -> None:
        """The one-line reason a cast was refused ("" hides it)."""
        line = " ".join(message.split())
        self.error.setToolTip(line)
        self.error.setText(line)
        self.error.setVisible(bool(line))

    # editing ---------------------------------------------------------------------------------
    def _emit(self, cast: str) -> None:
        if not self._showing:
            self.edited.emit(cast)

    def _mode_changed(self, mode: str) -> None:
        if self._showing:
            return
        if mode == OWN:
            self._emit("own")
        elif mode == FACE:
            if self.clip.count() == 0:
                self.show_error("no clip with a face to cast")
            else:
                self._picked(FACE, self.clip.currentData() or self.clip.itemData(0))
        elif mode == BANK:
            if self.bank.count() == 0:
                self.show_error("the model has no voice bank: add one with `imagintalk voices add`")
            else:
                self._picked(BANK, self.bank.currentText() or self.bank.itemText(0))
        else:
            self.pick_file()
        self.show_cast(self._cast)  # until the controller confirms the cast

    def _picked(self, mode: str, value: object) -> None:
        if value:
            self._emit(f"{KINDS[mode]}:{value}")

    def pick_file(self) -> None:
        """Ask for a recording of the character's voice; cancelling keeps the cast."""
        kind, _, value = self._cast.partition(":")
        start = value if kind == "voice" else ""
        path, _ = QFileDialog.getOpenFileName(self, "Character's voice", start, AUDIO_FILTER)
        if path:
            self._emit(f"voice:{Path(path).resolve()}")
