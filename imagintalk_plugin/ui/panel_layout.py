"""The panel window's arrangement: player over inspect views in the centre, docks around them.

The clip list with Open / Relink, Run / Cancel and the overall bar on the left, style and takes
on the right, settings and Place at the bottom. Only placement of widgets the window made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QSplitter, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from imagintalk_plugin.ui.panel import PanelWindow


def arrange(window: PanelWindow) -> list[QDockWidget]:
    """Lay the window's widgets out; returns the two side docks (sized once it is shown)."""
    centre = QWidget()
    column = QVBoxLayout(centre)
    column.setContentsMargins(4, 4, 4, 4)
    column.addWidget(window.banner)
    split = QSplitter(Qt.Orientation.Vertical)
    split.addWidget(window.audition)
    split.addWidget(window.views)
    split.setStretchFactor(0, 2)
    split.setStretchFactor(1, 3)
    split.setChildrenCollapsible(False)
    split.setSizes([320, 480])
    column.addWidget(split, 1)
    window.setCentralWidget(centre)
    clips = QWidget()
    left = QVBoxLayout(clips)
    timeline_row = QHBoxLayout()
    timeline_row.addWidget(window.open_button)
    timeline_row.addWidget(window.relink_button)
    left.addLayout(timeline_row)
    left.addWidget(window.clip_table, 1)
    buttons = QHBoxLayout()
    for button in (window.run_selected_button, window.run_all_button, window.cancel_button):
        buttons.addWidget(button)
    left.addLayout(buttons)
    left.addWidget(window.overall)
    bottom = QWidget()
    row = QHBoxLayout(bottom)
    row.addWidget(window.settings_box, 1)
    row.addWidget(window.place_button, 0, Qt.AlignmentFlag.AlignBottom)
    docks = []
    for title, widget, area in (
        ("Clips", clips, Qt.DockWidgetArea.LeftDockWidgetArea),
        ("Style and takes", window.style_panel, Qt.DockWidgetArea.RightDockWidgetArea),
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
