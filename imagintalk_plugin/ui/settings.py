"""The panel's settings (checkpoint, device, backend, threads, output folder), kept in QSettings.

Settings persist per user (QSettings "ImaginTalk"/"panel") so the panel reopens as it was
left; tests pass their own QSettings file. An empty checkpoint means the shipped demo model.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from imagintalk_plugin.panel_model.state import ModelConfig

DEVICES = ("auto", "cpu", "cuda")
BACKENDS = ("torch", "onnx")


def default_qsettings() -> QSettings:
    """The user's own panel settings."""
    return QSettings("ImaginTalk", "panel")


class SettingsBox(QGroupBox):
    """Model and output settings; every edit is saved at once and announced by `changed`."""

    changed = Signal()

    def __init__(self, store: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFlat(True)
        self.store = store if store is not None else default_qsettings()
        self.checkpoint = QLineEdit(str(self.store.value("checkpoint", "") or ""))
        self.checkpoint.setPlaceholderText("the shipped demo model")
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.backend = QComboBox()
        self.backend.addItems(BACKENDS)
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("default")
        self.output = QLineEdit(str(self.store.value("output", "") or ""))
        self.output.setPlaceholderText("beside the timeline")
        self._restore_choice(self.device, "device", "auto")
        self._restore_choice(self.backend, "backend", "torch")
        self.threads.setValue(int(self.store.value("threads", 0) or 0))

        grid = QGridLayout(self)  # two rows: model and where it runs; output and threads
        grid.addWidget(QLabel("Checkpoint"), 0, 0)
        grid.addWidget(self._with_browse(self.checkpoint, "Model folder"), 0, 1)
        grid.addWidget(QLabel("Output folder"), 1, 0)
        grid.addWidget(self._with_browse(self.output, "Output folder"), 1, 1)
        for row, column, label, widget in (
            (0, 2, "Device", self.device),
            (0, 4, "Backend", self.backend),
            (1, 2, "CPU threads", self.threads),
        ):
            grid.addWidget(QLabel(label), row, column)
            grid.addWidget(widget, row, column + 1)
        grid.setColumnStretch(1, 1)
        self.checkpoint.editingFinished.connect(self._save)
        self.output.editingFinished.connect(self._save)
        self.device.currentTextChanged.connect(self._save)
        self.backend.currentTextChanged.connect(self._save)
        self.threads.valueChanged.connect(self._save)

    def _restore_choice(self, combo: QComboBox, key: str, default: str) -> None:
        value = str(self.store.value(key, default) or default)
        combo.setCurrentText(value if combo.findText(value) >= 0 else default)

    def _with_browse(self, field: QLineEdit, title: str) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(field)
        browse = QPushButton("…")
        browse.setMaximumWidth(32)

        def pick() -> None:
            folder = QFileDialog.getExistingDirectory(self, title, field.text())
            if folder:
                field.setText(folder)
                self._save()

        browse.clicked.connect(pick)
        layout.addWidget(browse)
        return row

    def _save(self) -> None:
        self.store.setValue("checkpoint", self.checkpoint.text().strip())
        self.store.setValue("device", self.device.currentText())
        self.store.setValue("backend", self.backend.currentText())
        self.store.setValue("threads", self.threads.value())
        self.store.setValue("output", self.output.text().strip())
        self.store.sync()
        self.changed.emit()

    def use_checkpoint(self, folder: Path) -> None:
        """Use `folder` this session (a command-line choice; saved only with a later edit)."""
        self.checkpoint.blockSignals(True)
        self.checkpoint.setText(str(folder))
        self.checkpoint.blockSignals(False)
        self.changed.emit()

    def model_config(self) -> ModelConfig:
        """The model settings as the worker wants them."""
        text = self.checkpoint.text().strip()
        return ModelConfig(
            checkpoint=Path(text).expanduser() if text else None,
            device=self.device.currentText(),
            backend=self.backend.currentText(),
            threads=self.threads.value(),
        )

    def output_folder(self, timeline: Path | None) -> Path:
        """Where placed timelines go: the setting, else the timeline's folder."""
        text = self.output.text().strip()
        if text:
            return Path(text).expanduser()
        return timeline.parent if timeline is not None else Path.cwd()
