"""The clip list: one row per clip with its record timecode, status, progress and takes.

Rows follow the controller (it announces changes; the table redraws the clip named). A track
filter hides other tracks' clips; selection is multi-row (Run selected, style edits and
Regenerate apply to every selected clip) and the current row is the one inspected.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from imagintalk_plugin.ui.controller import PanelController
from imagintalk_plugin.ui.state import DONE, FAILED, OFFLINE, RUNNING, ClipState, PanelEvent

COLUMNS = ("Clip", "Name", "Track", "Record", "Duration", "Status", "Progress", "Takes", "Note")
ALL_TRACKS = "All tracks"
STATUS_COLOURS = {DONE: "#2e7d32", FAILED: "#c62828", OFFLINE: "#8d6e63", RUNNING: "#1565c0"}


class ClipTable(QWidget):
    """Track filter over a table of clips."""

    current_changed = Signal(str)  # clip id ("" when none)
    selection_changed = Signal()

    def __init__(self, controller: PanelController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.track_filter = QComboBox()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self._rows: dict[str, int] = {}
        self._bars: dict[str, QProgressBar] = {}

        top = QHBoxLayout()
        top.addWidget(QLabel("Track"))
        top.addWidget(self.track_filter, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table)
        self.track_filter.currentTextChanged.connect(self._apply_filter)
        self.table.itemSelectionChanged.connect(self.selection_changed)
        self.table.currentCellChanged.connect(
            lambda *_: self.current_changed.emit(self.current_id())
        )
        controller.subscribe(self._on_event)

    # following the controller ------------------------------------------------------------
    def _on_event(self, event: PanelEvent) -> None:
        if event.kind == "timeline":
            self.reload()
        elif event.clip_id in self._rows and event.kind in ("clip", "progress", "takes"):
            self._draw(self.controller.clip(event.clip_id))

    def reload(self) -> None:
        """Rebuild every row from the controller."""
        self.table.setRowCount(0)
        self._rows.clear()
        self._bars.clear()
        ids = self.controller.clip_ids()
        self.table.setRowCount(len(ids))
        for row, clip_id in enumerate(ids):
            self._rows[clip_id] = row
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
            self.table.setCellWidget(row, COLUMNS.index("Progress"), bar)
            self._bars[clip_id] = bar
            self._draw(self.controller.clip(clip_id))
        self.track_filter.blockSignals(True)
        self.track_filter.clear()
        self.track_filter.addItems([ALL_TRACKS, *self.controller.tracks()])
        self.track_filter.blockSignals(False)
        self._apply_filter()
        if ids:
            self.table.selectRow(0)

    def _draw(self, state: ClipState) -> None:
        row = self._rows[state.clip_id]
        ref = state.ref
        status = state.status
        if state.stage:
            status = "queued" if state.stage == "queued" else f"{status} · {state.stage}"
        cells = (
            ref.clip_id,
            ref.name,
            ref.track_name,
            state.record_timecode,
            f"{state.duration_s:.2f} s",
            status,
            None,
            str(len(state.takes)) if state.takes else "",
            state.error or "; ".join(ref.notes),
        )
        for column, text in enumerate(cells):
            if text is None:
                continue
            item = self.table.item(row, column)
            if item is None:
                item = QTableWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, ref.clip_id)
                self.table.setItem(row, column, item)
            item.setText(text)
            if column == COLUMNS.index("Status") and state.status in STATUS_COLOURS:
                item.setForeground(QColor(STATUS_COLOURS[state.status]))
            if column == COLUMNS.index("Note"):
                item.setToolTip(text)
        self._bars[state.clip_id].setValue(round(1000 * state.fraction))

    def _apply_filter(self) -> None:
        track = self.track_filter.currentText()
        for clip_id, row in self._rows.items():
            hidden = (
                track not in ("", ALL_TRACKS)
                and self.controller.clip(clip_id).ref.track_name != track
            )
            self.table.setRowHidden(row, hidden)

    # what the user picked ------------------------------------------------------------------
    def visible_ids(self) -> list[str]:
        """Clip ids the filter shows, in timeline order."""
        return [i for i, row in self._rows.items() if not self.table.isRowHidden(row)]

    def selected_ids(self) -> list[str]:
        """Selected (and visible) clip ids in timeline order."""
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        return [
            i for i, row in self._rows.items() if row in rows and not self.table.isRowHidden(row)
        ]

    def current_id(self) -> str:
        """The clip of the current row ("" when none)."""
        row = self.table.currentRow()
        item = self.table.item(row, 0) if row >= 0 else None
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def select(self, clip_ids: list[str]) -> None:
        """Select these clips (the first becomes current)."""
        model, flag = self.table.selectionModel(), QItemSelectionModel.SelectionFlag
        model.clearSelection()
        for clip_id in clip_ids:
            model.select(self.table.model().index(self._rows[clip_id], 0), flag.Select | flag.Rows)
        if clip_ids:
            first = self.table.model().index(self._rows[clip_ids[0]], 0)
            model.setCurrentIndex(first, flag.NoUpdate)
