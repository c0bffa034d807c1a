"""Style controls for the next take, Regenerate, and the clip's takes with circle-take.

The controls show the current clip's settings; an edit applies to every selected clip (so an
editor can set one emotion on a whole scene) and is announced as one changed field. The timbre
row (`timbre_controls`) picks the voice: the clip's face, another clip's face or a voice file;
for a clip whose character is cast it shows the cast instead (set in the ADR box above the
style, `adr_controls`, which the window gives the panel).
The takes list is the current clip's, each take with its recipe (timbre included): picking a
take inspects it, Circle marks the one to place. The controls an editor reaches for (pitch,
speed, emotion, timbre, variation seed) have plain labels; the model's own knobs (guidance,
diffusion steps, detector threshold) sit in an "Advanced" section, collapsed at first.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from imagintalk_plugin.core.signals import EMOTIONS
from imagintalk_plugin.panel_model.state import ClipState
from imagintalk_plugin.ui.timbre_controls import TimbreControls

FROM_FACE = "from the face"
MAX_SEED = 2**31 - 1


def _spin(low: float, high: float, step: float, decimals: int, suffix: str = "") -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setDecimals(decimals)
    spin.setSuffix(suffix)
    spin.setKeyboardTracking(False)  # one edit per finished number, not per keystroke
    return spin


class Collapsible(QWidget):
    """A titled section whose body shows only while its header arrow is open."""

    def __init__(self, title: str, body: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QToolButton()
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setAutoRaise(True)
        self.body = body
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(body)
        self.header.toggled.connect(self.set_open)
        self.set_open(False)

    def set_open(self, on: bool) -> None:
        """Show or hide the body."""
        self.header.setChecked(on)
        self.header.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.body.setVisible(on)

    @property
    def is_open(self) -> bool:
        """Whether the body shows."""
        return self.header.isChecked()


class StylePanel(QWidget):
    """Per-clip style settings, Regenerate, and the takes list."""

    style_edited = Signal(dict)  # {field: value} for the selected clips
    regenerate_requested = Signal()
    circle_requested = Signal(int)  # take number
    take_chosen = Signal(int)  # take number to inspect

    def __init__(self, parent: QWidget | None = None, adr: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pitch = _spin(-24.0, 24.0, 0.5, 1)
        self.speed = _spin(0.25, 4.0, 0.05, 2, " x")
        self.emotion = QComboBox()
        self.emotion.addItems([FROM_FACE, *EMOTIONS])
        self.timbre = TimbreControls()
        self.cast_note = QLabel()  # a cast character's voice, in place of the timbre controls
        self.cast_note.setWordWrap(True)
        self.cast_note.hide()
        self.guidance = _spin(1.0, 10.0, 0.25, 2)
        self.steps = QSpinBox()
        self.steps.setRange(1, 256)
        self.steps.setKeyboardTracking(False)
        self.calibrated = QCheckBox("calibrated")
        self.threshold = _spin(0.0, 1.0, 0.05, 2)
        self.seed = QSpinBox()
        self.seed.setRange(0, MAX_SEED)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("another number gives another reading of the line")
        self.seed_locked = QCheckBox("lock")
        self.seed_locked.setToolTip("regenerate with this seed instead of a new one")
        self.guidance.setToolTip("how strongly the voice follows the face and style (default 2)")
        self.steps.setToolTip("more steps: slower, sometimes cleaner (default 16)")
        self.threshold.setToolTip("how doubtful a lip-read unit must be to be re-guessed")
        self.regenerate = QPushButton("Regenerate")
        self.takes = QListWidget()
        self.takes.setWordWrap(True)  # a take's whole recipe, timbre included, stays readable
        self.takes.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.circle = QPushButton("Circle take")

        self.box = QGroupBox("Style")
        form = QFormLayout(self.box)
        form.addRow("Pitch (semitones)", self.pitch)
        form.addRow("Speed", self.speed)
        form.addRow("Emotion", self.emotion)
        form.addRow("Voice (timbre)", self._row(self.timbre, self.cast_note))
        form.addRow("Variation seed", self._row(self.seed, self.seed_locked))
        knobs = QWidget()
        advanced_form = QFormLayout(knobs)
        advanced_form.setContentsMargins(0, 0, 0, 0)
        advanced_form.addRow("Guidance", self.guidance)
        advanced_form.addRow("Diffusion steps", self.steps)
        advanced_form.addRow("Detector threshold", self._row(self.threshold, self.calibrated))
        self.advanced = Collapsible("Advanced", knobs)
        form.addRow(self.advanced)
        form.addRow(self.regenerate)
        takes_box = QGroupBox("Takes")
        takes_layout = QVBoxLayout(takes_box)
        takes_layout.addWidget(self.takes)
        takes_layout.addWidget(self.circle)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if adr is not None:
            layout.addWidget(adr)
        layout.addWidget(self.box)
        layout.addWidget(takes_box, 1)

        self.pitch.valueChanged.connect(lambda v: self._edited(pitch=float(v)))
        self.speed.valueChanged.connect(lambda v: self._edited(speed=float(v)))
        self.emotion.currentTextChanged.connect(
            lambda text: self._edited(emotion=None if text == FROM_FACE else text)
        )
        self.timbre.edited.connect(lambda change: self._edited(**change))
        self.guidance.valueChanged.connect(lambda v: self._edited(guidance=float(v)))
        self.steps.valueChanged.connect(lambda v: self._edited(steps=int(v)))
        self.threshold.valueChanged.connect(lambda v: self._edited(threshold=float(v)))
        self.calibrated.toggled.connect(self._calibrated_toggled)
        self.seed.valueChanged.connect(lambda v: self._edited(seed=int(v)))
        self.seed_locked.toggled.connect(lambda on: self._edited(seed_locked=bool(on)))
        self.regenerate.clicked.connect(self.regenerate_requested)
        self.circle.clicked.connect(self._circle_clicked)
        self.takes.itemDoubleClicked.connect(lambda _item: self._circle_clicked())
        self.takes.currentItemChanged.connect(self._take_changed)
        self._showing = False
        self.show_clips([], None)

    @staticmethod
    def _row(*widgets: QWidget) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in widgets:
            layout.addWidget(widget)
        return row

    def _edited(self, **change: Any) -> None:
        if not self._showing:
            self.style_edited.emit(change)

    def _calibrated_toggled(self, on: bool) -> None:
        self.threshold.setEnabled(not on)
        self._edited(threshold=None if on else float(self.threshold.value()))

    def _circle_clicked(self) -> None:
        number = self.current_take()
        if number is not None:
            self.circle_requested.emit(number)

    def _take_changed(self, item: QListWidgetItem | None, _previous: object) -> None:
        if item is not None and not self._showing:
            self.take_chosen.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    def current_take(self) -> int | None:
        """The take number picked in the list, if any."""
        item = self.takes.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def show_clips(
        self,
        selected: list[ClipState],
        current: ClipState | None,
        take: int | None = None,
        cast: str | None = None,
    ) -> None:
        """Show the current clip's style and takes; `selected` is what an edit applies to.
        `cast` is the cast of the clip's character (None: its own timbre controls)."""
        self._showing = True
        try:
            enabled = current is not None
            self.box.setEnabled(enabled)
            self.circle.setEnabled(enabled and bool(current.takes))
            count = len(selected)
            self.box.setTitle(f"Style of {count} clips" if count > 1 else "Style")
            self.takes.clear()
            if current is None:
                return
            style = current.style
            self.pitch.setValue(style.pitch)
            self.speed.setValue(style.speed)
            self.emotion.setCurrentText(style.emotion or FROM_FACE)
            self.timbre.show_style(style, current.clip_id)
            self.timbre.setVisible(cast is None)
            self.cast_note.setVisible(cast is not None)
            self.cast_note.setText(f"{style.character}'s cast: {cast}" if cast else "")
            self.guidance.setValue(style.guidance)
            self.steps.setValue(style.steps)
            self.calibrated.setChecked(style.threshold is None)
            self.threshold.setEnabled(style.threshold is not None)
            if style.threshold is not None:
                self.threshold.setValue(style.threshold)
            self.seed.setValue(style.seed)
            self.seed_locked.setChecked(style.seed_locked)
            for t in current.takes:
                item = QListWidgetItem(t.label())
                item.setToolTip("\n".join([t.label(), *t.notes]))
                item.setData(Qt.ItemDataRole.UserRole, t.number)
                self.takes.addItem(item)
                if t.number == take:
                    self.takes.setCurrentItem(item)
        finally:
            self._showing = False
