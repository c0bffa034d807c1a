"""Where the voice's timbre comes from: the clip's face, another clip's face, or a voice file.

One combo picks the source; a clip picker or a file row appears under it for the other two.
Picking a reference voice opens a file dialog at once (cancelling it keeps the previous
source). Edits are announced as style changes (`timbre_clip` / `reference_audio`); the
controller checks them, and a refusal comes back as a one-line red message under the row
(wrapped to the column's width rather than widening it).
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

from imagintalk_plugin.panel_model.state import StyleSettings

FROM_FACE, FROM_CLIP, FROM_AUDIO = "from the face", "from another clip's face", "from a voice file"
MODES = (FROM_FACE, FROM_CLIP, FROM_AUDIO)
AUDIO_FILTER = "WAV audio (*.wav *.bwf *.WAV);;All files (*)"
ERROR_STYLE = "color:#e53935;"


class TimbreControls(QWidget):
    """The timbre source of the current clip; edits apply to the selected clips."""

    edited = Signal(dict)  # {"timbre_clip": ..., "reference_audio": ...}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.mode.setToolTip("whose voice the take gets: the clip's own face by default")
        self.clip = QComboBox()
        self.clip.setToolTip("the clip whose face gives the timbre")
        self.file = QLabel()
        self.file.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.browse = QPushButton("…")
        self.browse.setMaximumWidth(32)
        self.browse.setToolTip("choose a recording of the voice (WAV, at least 1 s)")
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)  # one message; wrapped to the column, never widening it
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
        for widget in (self.mode, self.clip, self.file_row, self.error):
            layout.addWidget(widget)
        self._style = StyleSettings()
        self._own: str | None = None  # the clip shown, not offered first as "another" face
        self._showing = False
        self.mode.currentTextChanged.connect(self._mode_changed)
        self.clip.activated.connect(lambda _index: self._clip_picked())
        self.browse.clicked.connect(self.pick_file)
        self.show_style(self._style)

    # showing ---------------------------------------------------------------------------------
    def set_sources(self, clips: list[tuple[str, str]]) -> None:
        """The clips whose face may be picked: (clip id, label) in timeline order."""
        self._showing = True
        try:
            self.clip.clear()
            for clip_id, label in clips:
                self.clip.addItem(label, clip_id)
        finally:
            self._showing = False
        self.show_style(self._style)

    def show_style(self, style: StyleSettings, own: str | None = None) -> None:
        """Show the timbre source of clip `own` (no edit is announced)."""
        self._style = style
        self._own = own if own is not None else self._own
        self._showing = True
        try:
            if style.timbre_clip is not None:
                mode = FROM_CLIP
                self.clip.setCurrentIndex(self.clip.findData(style.timbre_clip))
            elif style.reference_audio is not None:
                mode = FROM_AUDIO
                path = Path(style.reference_audio)
                self.file.setText(path.name)
                self.file.setToolTip(str(path))
            else:
                mode = FROM_FACE
            self.mode.setCurrentText(mode)
            self.clip.setVisible(mode == FROM_CLIP)
            self.file_row.setVisible(mode == FROM_AUDIO)
        finally:
            self._showing = False

    def show_error(self, message: str) -> None:
        """The one-line reason an edit was refused ("" hides it)."""
        line = " ".join(message.split())
        self.error.setToolTip(line)
        self.error.setText(line)
        self.error.setVisible(bool(line))

    # editing ---------------------------------------------------------------------------------
    def _emit(self, **change: object) -> None:
        if not self._showing:
            self.edited.emit(change)

    def _mode_changed(self, mode: str) -> None:
        if self._showing:
            return
        if mode == FROM_FACE:
            self._emit(timbre_clip=None, reference_audio=None)
        elif mode == FROM_CLIP:
            if self.clip.count() == 0:
                self.show_error("no clip with a face to take the timbre from")
            else:
                others = [i for i in range(self.clip.count()) if self.clip.itemData(i) != self._own]
                self.clip.setCurrentIndex(others[0] if others else 0)
                self._clip_picked()
        else:
            self.pick_file()
        self.show_style(self._style)  # until the controller confirms the edit

    def _clip_picked(self) -> None:
        clip_id = self.clip.currentData()
        if clip_id is not None:
            self._emit(timbre_clip=str(clip_id))

    def pick_file(self) -> None:
        """Ask for a reference voice file; cancelling keeps the current source."""
        start = str(self._style.reference_audio or "")
        path, _ = QFileDialog.getOpenFileName(self, "Reference voice", start, AUDIO_FILTER)
        if path:
            self._emit(reference_audio=Path(path))
