"""What a take is made of, drawn over one time axis, labelled in the clip's record timecode.

Rows, top to bottom: the speech units (50 Hz; shading = the error detector's confidence that a
unit is right, 1 - error_prob; units the refiner changed in red, with the aligner's original
as a hollow mark), F0 (Hz, gaps where unvoiced), energy (dB), the waveform, and a strip of
mouth crops sampled along the clip. The x axes are linked and one playhead line crosses
every row: drag it in any row, or click a row to move it there. Internally times are seconds
from the clip's first frame; the axis shows them as record timecode (`timecode_axis`). Before a
clip has a take the plots give way to a plain "no take yet" message.

Units and mouths are in picture time; F0, energy and audio in the take's own time, which is
what gets placed. They agree at speed 1; a take made at another speed runs longer or
shorter than the picture, and the rows show that rather than hide it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from imagintalk_plugin.panel_model.saved_takes import MouthStrip, mouth_strip
from imagintalk_plugin.ui.timecode_axis import ClipClock, TimecodeAxis, seconds_clock

__all__ = ["ROWS", "InspectViews", "mouth_strip"]

ROWS = ("units", "f0", "energy", "waveform", "mouths")
TITLES = {"units": "units", "f0": "F0 Hz", "energy": "dB", "waveform": "audio"}
SHADES = 8  # alpha levels of the unit shading
EMPTY_STYLE = "color:#9e9e9e; font-size:16px;"


class InspectViews(QWidget):
    """Linked plots of one take with a shared playhead."""

    playhead_moved = Signal(float)  # seconds

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("No take selected")
        self.title.setWordWrap(True)  # a long take recipe must not widen the window
        self.empty = QLabel("No take yet")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet(EMPTY_STYLE)
        self.canvas = pg.GraphicsLayoutWidget()
        self.time_axis = TimecodeAxis()
        self.plots: dict[str, pg.PlotItem] = {}
        self.lines: dict[str, pg.InfiniteLine] = {}
        for row, name in enumerate(ROWS):
            axes = {"bottom": self.time_axis} if name == ROWS[-1] else None
            plot = self.canvas.addPlot(row=row, col=0, axisItems=axes)
            plot.setMenuEnabled(False)
            plot.setLabel("left", TITLES.get(name, ""))
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.getAxis("left").setWidth(56)  # equal widths keep the rows' x axes aligned
            plot.hideButtons()
            if row:
                plot.setXLink(self.plots[ROWS[0]])
            if name != ROWS[-1]:
                plot.getAxis("bottom").setStyle(showValues=False)
            line = pg.InfiniteLine(0.0, angle=90, movable=True, pen=pg.mkPen("#ffb300", width=2))
            line.sigPositionChanged.connect(self._line_moved)
            plot.addItem(line)
            self.plots[name], self.lines[name] = plot, line
        self.plots["mouths"].hideAxis("left")
        self.plots["mouths"].invertY(True)
        self.plots["mouths"].setLabel("bottom", "record timecode")
        self.canvas.ci.layout.setRowStretchFactor(0, 3)
        self.items = self._make_items()
        self.canvas.scene().sigMouseClicked.connect(self._clicked)
        self._syncing = False
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(self.canvas)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.pages)

    def _make_items(self) -> dict[str, Any]:
        items: dict[str, Any] = {
            "units": pg.ScatterPlotItem(size=4, pen=None),
            "original": pg.ScatterPlotItem(size=7, pen=pg.mkPen("#e53935"), brush=None),
            "changed": pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush("#e53935")),
            "f0": pg.PlotDataItem(pen=pg.mkPen("#43a047", width=2), connect="finite"),
            "energy": pg.PlotDataItem(pen=pg.mkPen("#fb8c00")),
            "waveform": pg.PlotDataItem(pen=pg.mkPen("#90caf9")),
            "mouths": pg.ImageItem(axisOrder="row-major"),
        }
        items["waveform"].setDownsampling(auto=True, method="peak")
        items["waveform"].setClipToView(True)
        for name in ("units", "original", "changed"):
            self.plots["units"].addItem(items[name])
        for name in ("f0", "energy", "waveform", "mouths"):
            self.plots[name].addItem(items[name])
        self._brushes = [
            pg.mkBrush(66, 165, 245, 40 + 215 * k // (SHADES - 1)) for k in range(SHADES)
        ]
        return items

    # drawing -------------------------------------------------------------------------------
    @property
    def showing_plots(self) -> bool:
        """Whether a take is drawn (False: the "no take yet" message is shown)."""
        return self.pages.currentWidget() is self.canvas

    def set_clock(self, clock: ClipClock | None) -> None:
        """Label times with this clip's record timecode (None: plain timecode from zero)."""
        self.time_axis.set_clock(clock or seconds_clock())

    def clear(self, message: str = "No take selected", detail: str = "") -> None:
        """Empty every row and show `message` (with `detail` under it) instead of the plots."""
        self.title.setText(message)
        self.empty.setText(f"{message}\n\n{detail}" if detail else message)
        self.pages.setCurrentWidget(self.empty)
        for name in ("units", "original", "changed"):
            self.items[name].clear()
        for name in ("f0", "energy", "waveform"):
            self.items[name].setData([], [])
        self.items["mouths"].clear()

    def show_take(self, title: str, speech: Any, mouths: MouthStrip | None) -> None:
        """Draw one take (a pipeline `ClipSpeech` or a saved one) and the clip's mouths."""
        self.title.setText(title)
        self.pages.setCurrentWidget(self.canvas)
        units, refined = speech.units, speech.refined
        t = np.arange(units.num_steps) / units.rate_hz
        confidence = 1.0 - np.clip(np.asarray(speech.error_prob, np.float64), 0.0, 1.0)
        shade = np.round(confidence * (SHADES - 1)).astype(int)
        self.items["units"].setData(x=t, y=refined.tokens, brush=[self._brushes[k] for k in shade])
        changed = np.asarray(speech.changed)
        self.items["changed"].setData(x=t[changed], y=refined.tokens[changed])
        self.items["original"].setData(x=t[changed], y=units.tokens[changed])
        prosody = speech.prosody
        tp = np.arange(len(prosody.f0_hz)) / prosody.rate_hz
        f0 = np.where(prosody.voiced, prosody.f0_hz, np.nan).astype(np.float64)
        self.items["f0"].setData(tp, f0)
        self.items["energy"].setData(tp, prosody.energy_db)
        wave = speech.waveform
        samples = wave.samples if wave.samples.ndim == 1 else wave.samples.mean(axis=0)
        self.items["waveform"].setData(np.arange(len(samples)) / wave.sample_rate, samples)
        if mouths is not None:
            image = self.items["mouths"]
            image.setImage(mouths.image, levels=(0, 255))
            image.setRect(QRectF(0.0, 0.0, mouths.seconds, 1.0))
        else:
            self.items["mouths"].clear()
        self.plots["units"].enableAutoRange()
        for plot in self.plots.values():
            plot.enableAutoRange(axis="y")

    # playhead ------------------------------------------------------------------------------
    @property
    def playhead(self) -> float:
        """The playhead's time in seconds."""
        return float(self.lines[ROWS[0]].value())

    def set_playhead(self, seconds: float) -> None:
        """Move the playhead in every row."""
        self.lines[ROWS[0]].setValue(max(0.0, float(seconds)))

    def _line_moved(self, moved: pg.InfiniteLine) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            value = float(moved.value())
            for line in self.lines.values():
                if line is not moved:
                    line.setValue(value)
        finally:
            self._syncing = False
        self.playhead_moved.emit(value)

    def _clicked(self, event: Any) -> None:
        for plot in self.plots.values():
            if plot.sceneBoundingRect().contains(event.scenePos()):
                self.set_playhead(plot.vb.mapSceneToView(event.scenePos()).x())
                return
