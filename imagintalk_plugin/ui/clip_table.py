"""The clip list: one row per clip with its record timecode, status, progress and takes.

Rows follow the controller (it announces changes; the table redraws the clip named). A track
filter hides other tracks' clips; selection is multi-row (Run selected, style edits and
Regenerate apply to every selected clip) and the current row is the one inspected. The first
column shows each clip's face (see `thumbnails`), made off the GUI thread when the timeline
opens and replaced by the front-end's own face picture once the clip has a take.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPixmap
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

from imagintalk_plugin.panel_model.controller import PanelController
from imagintalk_plugin.panel_model.state import (
    DONE,
    FAILED,
    OFFLINE,
    RUNNING,
    ClipState,
    PanelEvent,
)
from imagintalk_plugin.ui.thumbnails import THUMB_PX, ThumbnailMaker, face_pixmap, usable

# Two-line cells, as in an editor's bin: "id · track · character" over the name, timecode over
# duration.
COLUMNS = ("Face", "Clip", "Record", "Status", "Progress", "Takes", "Note")
ALL_TRACKS = "All tracks"
STATUS_COLOURS = {DONE: "#66bb6a", FAILED: "#ef5350", OFFLINE: "#a1887f", RUNNING: "#42a5f5"}


class ClipTable(QWidget):
    """Track filter over a table of clips."""

    current_changed = Signal(str)  # clip id ("" when none)
    selection_changed = Signal()

    def __init__(
        self, controller: PanelController, parent: QWidget | None = None, cache: Any = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.thumbnails = ThumbnailMaker(cache, self)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.track_filter = QComboBox()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(THUMB_PX + 6)
        self.table.setIconSize(QSize(THUMB_PX, THUMB_PX))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        progress = COLUMNS.index("Progress")
        header.setSectionResizeMode(progress, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(progress, 64)
        header.setSectionResizeMode(COLUMNS.index("Note"), QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(24)
        self._rows: dict[str, int] = {}
        self._bars: dict[str, QProgressBar] = {}
        self._faces: dict[str, QPixmap] = {}
        self._from_track: set[str] = set()  # clips showing their LipTrack's own face

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
        elif event.clip_id in self._rows and event.kind in ("clip", "progress", "takes", "style"):
            state = self.controller.clip(event.clip_id)
            self._draw(state)
            if event.kind == "takes" and state.track is not None and usable(state.track.face_crop):
                self._from_track.add(state.clip_id)
                self.set_face(state.clip_id, state.track.face_crop)

    def reload(self) -> None:
        """Rebuild every row from the controller."""
        self.table.setRowCount(0)
        self._rows.clear()
        self._bars.clear()
        self._faces.clear()
        self._from_track.clear()
        ids = self.controller.clip_ids()
        self.table.setRowCount(len(ids))
        for row, clip_id in enumerate(ids):
            self._rows[clip_id] = row
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
            bar.setMaximumHeight(12)
            cell = QWidget()  # keeps the bar thin and centred in a thumbnail-high row
            box = QVBoxLayout(cell)
            box.setContentsMargins(4, 0, 4, 0)
            box.addWidget(bar)
            self.table.setCellWidget(row, COLUMNS.index("Progress"), cell)
            self._bars[clip_id] = bar
            self._draw(self.controller.clip(clip_id))
        self.track_filter.blockSignals(True)
        self.track_filter.clear()
        self.track_filter.addItems([ALL_TRACKS, *self.controller.tracks()])
        self.track_filter.blockSignals(False)
        self._apply_filter()
        online = [c.ref for c in self.controller.clips.values() if c.status != OFFLINE]
        self.thumbnails.request(online)
        if ids:
            self.table.selectRow(0)

    # faces -----------------------------------------------------------------------------
    def _thumbnail_ready(self, generation: int, clip_id: str, face: object) -> None:
        if generation != self.thumbnails.generation or clip_id in self._from_track:
            return  # another timeline's, or the take's own face is already shown
        if isinstance(face, np.ndarray) and clip_id in self._rows:
            self.set_face(clip_id, face)

    def set_face(self, clip_id: str, face: np.ndarray) -> None:
        """Show a face (RGB uint8) in the clip's row."""
        pixmap = face_pixmap(face)
        self._faces[clip_id] = pixmap
        item = self.table.item(self._rows[clip_id], COLUMNS.index("Face"))
        if item is not None:
            item.setData(Qt.ItemDataRole.DecorationRole, pixmap)

    def face(self, clip_id: str) -> QPixmap | None:
        """The clip's thumbnail, None while it has none."""
        return self._faces.get(clip_id)

    def _draw(self, state: ClipState) -> None:
        row = self._rows[state.clip_id]
        ref = state.ref
        status = state.status
        chosen = state.chosen_take()
        speaker = f" · {state.style.character}" if state.style.character else ""
        notes = "; ".join(chosen.notes) if chosen is not None else ""
        if state.stage:
            status = "queued" if state.stage == "queued" else f"{status} · {state.stage}"
        cells = (
            "",
            f"{ref.clip_id} · {ref.track_name}{speaker}\n{ref.name}",
            f"{state.record_timecode}\n{state.duration_s:.2f} s",
            status,
            None,
            str(len(state.takes)) if state.takes else "",
            state.error or notes or "; ".join(ref.notes),
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
