"""The panel window's arrangement: player over inspect views in the centre, docks around them.

The clip list with Open / Relink, Run / Cancel and the overall bar on the left, style and takes
on the right, settings and Place at the bottom. Only placement of widgets the window made.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)


class PanelParts(Protocol):
    """The widgets the panel window made and `arrange` places (the window itself has them)."""

    @property
    def banner(self) -> QWidget: ...
    @property
    def audition(self) -> QWidget: ...
    @property
    def views(self) -> QWidget: ...
    @property
    def open_button(self) -> QWidget: ...
    @property
    def relink_button(self) -> QWidget: ...
    @property
    def clip_table(self) -> QWidget: ...
    @property
    def run_selected_button(self) -> QWidget: ...
    @property
    def run_all_button(self) -> QWidget: ...
    @property
    def cancel_button(self) -> QWidget: ...
    @property
    def overall(self) -> QWidget: ...
    @property
    def settings_box(self) -> QWidget: ...
    @property
    def place_button(self) -> QWidget: ...
    @property
    def style_panel(self) -> QWidget: ...


def arrange(window: QMainWindow, parts: PanelParts) -> list[QDockWidget]:
    """Lay the parts out in the window; returns the two side docks (sized once it is shown)."""
    centre = QWidget()
    column = QVBoxLayout(centre)
    column.setContentsMargins(4, 4, 4, 4)
    column.addWidget(parts.banner)
    split = QSplitter(Qt.Orientation.Vertical)
    split.addWidget(parts.audition)
    split.addWidget(parts.views)
    split.setStretchFactor(0, 2)
    split.setStretchFactor(1, 3)
    split.setChildrenCollapsible(False)
    split.setSizes([320, 480])
    column.addWidget(split, 1)
    window.setCentralWidget(centre)
    clips = QWidget()
    left = QVBoxLayout(clips)
    timeline_row = QHBoxLayout()
    timeline_row.addWidget(parts.open_button)
    timeline_row.addWidget(parts.relink_button)
    left.addLayout(timeline_row)
    left.addWidget(parts.clip_table, 1)
    buttons = QHBoxLayout()
    for button in (parts.run_selected_button, parts.run_all_button, parts.cancel_button):
        buttons.addWidget(button)
    left.addLayout(buttons)
    left.addWidget(parts.overall)
    bottom = QWidget()
    row = QHBoxLayout(bottom)
    row.addWidget(parts.settings_box, 1)
    row.addWidget(parts.place_button, 0, Qt.AlignmentFlag.AlignBottom)
    docks = []
    for title, widget, area in (
        ("Clips", clips, Qt.DockWidgetArea.LeftDockWidgetArea),
        ("Style and takes", parts.style_panel, Qt.DockWidgetArea.RightDockWidgetArea),
        ("Settings", bottom, Qt.DockWidgetArea.BottomDockWidgetArea),
    ):
        dock = QDockWidget(title, window)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        window.addDockWidget(area, dock)
        docks.append(dock)
    return docks[:2]
