"""The panel's look: Qt's Fusion style with a dark palette, as editors' own panels are dark.

A grading suite is dim and the host around the panel (Resolve, Blender) is dark, so a light
panel would glare; the plots (pyqtgraph) are drawn on black already. `apply_theme` sets the
style and palette on the application; the panel process calls it once at start.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

WINDOW, BASE, TEXT, ACCENT = "#2b2b2b", "#1e1e1e", "#dcdcdc", "#3d7fd1"


def dark_palette() -> QPalette:
    """Greys like an editor's panels, with one blue accent for selection and focus."""
    palette = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    for name, colour in (
        (role.Window, WINDOW),
        (role.WindowText, TEXT),
        (role.Base, BASE),
        (role.AlternateBase, "#262626"),
        (role.ToolTipBase, "#3a3a3a"),
        (role.ToolTipText, TEXT),
        (role.Text, TEXT),
        (role.Button, "#353535"),
        (role.ButtonText, TEXT),
        (role.BrightText, "#ff5252"),
        (role.Link, ACCENT),
        (role.Highlight, ACCENT),
        (role.HighlightedText, "#ffffff"),
        (role.PlaceholderText, "#8a8a8a"),
        (role.Mid, "#404040"),
        (role.Dark, "#1a1a1a"),
        (role.Light, "#4a4a4a"),
    ):
        palette.setColor(name, QColor(colour))
    for name in (role.Text, role.WindowText, role.ButtonText):
        palette.setColor(group.Disabled, name, QColor("#7a7a7a"))
    return palette


def apply_theme(app: QApplication) -> None:
    """Fusion with the dark palette (Fusion follows palettes on every platform)."""
    fusion = QStyleFactory.create("Fusion")
    if fusion is not None:
        app.setStyle(fusion)
    app.setPalette(dark_palette())
