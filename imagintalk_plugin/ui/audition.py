"""Audition: the current clip's picture with the current take's audio, on the inspect views' time.

The viewer shows the clip's media file from its source range and plays the take with it (two
players kept in step, see `audition_media.MediaPair`). Time is seconds from the clip's first
frame, the inspect views' axis; picture and take agree at speed 1 and the audition runs as long
as the longer of the two (the picture holds its last frame under a take that runs on).

The transport keeps its own clock (a `QElapsedTimer`): it moves the shared playhead about 30
times a second, stops or loops at the end, and has the players re-seeked when they drift. So
playback and the playhead stay in step even where there is no sound device (a headless
machine), and moving the playhead (or the scrub bar) seeks both players.

Where QtMultimedia cannot load (Linux without libpulse0, say) the player shows that reason in
one line, its controls are off, and the rest of the panel works. Where it loads but the system
has no audio output device, Play with a take says so in one line instead of playing in silence.
The time readout is the clip's record timecode (`timecode_axis.ClipClock`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.ui.audition_media import MediaPair, picture_range
from imagintalk_plugin.ui.timecode_axis import ClipClock, seconds_clock

TICK_MS = 33  # how often playback moves the playhead
SCREEN_STYLE = "background:#111; color:#9e9e9e;"
REASON_STYLE = "color:#ffb300;"
NO_OUTPUT = "no audio output device: the take cannot be heard (connect or enable one, then Play)"


class AuditionPlayer(QWidget):
    """Viewer, play/pause, loop and scrub bar for one clip and one take."""

    position_changed = Signal(float)  # seconds from the clip's first frame
    playing_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.screen = QLabel("No clip")
        self.screen.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.screen.setStyleSheet(SCREEN_STYLE)
        self.screen.setMinimumSize(160, 120)
        self.screen.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        icons = self.style()
        self._icons = (
            icons.standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
            icons.standardIcon(QStyle.StandardPixmap.SP_MediaPause),
        )
        self.play_button = QPushButton(self._icons[0], "Play")
        self.loop_button = QPushButton("Loop")
        self.loop_button.setCheckable(True)
        self.loop_button.setToolTip("play the clip over and over")
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setRange(0, 0)
        self.clock = seconds_clock()
        self.time = QLabel("--:--:--:-- / --:--:--:--")
        self.reason = QLabel()
        self.reason.setStyleSheet(REASON_STYLE)
        self.reason.hide()
        transport = QHBoxLayout()
        transport.addWidget(self.play_button)
        transport.addWidget(self.loop_button)
        transport.addWidget(self.scrub, 1)
        transport.addWidget(self.time)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.screen, 1)
        layout.addLayout(transport)
        layout.addWidget(self.reason)

        self.position = 0.0  # seconds from the clip's first frame
        self.length = 0.0
        self.playing = False
        self.frames_shown = 0  # picture frames drawn since the player was made
        self._clip_id: str | None = None
        self._clip: ClipRef | None = None
        self._take: Waveform | None = None
        self._origin = 0.0
        self._clock = QElapsedTimer()
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._advance)
        self._image: QImage | None = None
        self._updating = False
        self._moving_playhead = False
        self._views: Any = None
        self.media = MediaPair(self)
        self.available = self.media.available
        self.media.frame.connect(self._frame)
        self.media.failed.connect(self._fail)
        if not self.available:
            self._fail(self.media.reason)
            self.screen.setText("No audition player")
        self.play_button.clicked.connect(self.toggle)
        self.scrub.valueChanged.connect(self._scrubbed)
        self._enable()

    # loading ---------------------------------------------------------------------------------
    def load(
        self, clip: ClipRef | None, take: Waveform | None = None, take_number: int = 0
    ) -> None:
        """Audition `clip`'s picture with a take's audio (None: the picture alone); the same
        clip and take again changes nothing (playback goes on)."""
        if (clip, take) == (self._clip, self._take) and self._clip is not None:
            return
        self._clip, self._take = clip, take
        self.clock = ClipClock.of(clip) if clip is not None else seconds_clock()
        self.pause()
        if clip is None or clip.clip_id != self._clip_id:
            self.position = 0.0
        self._clip_id = clip.clip_id if clip is not None else None
        if self.available:
            self.reason.hide()
        self._load_picture(clip)
        self.media.set_take(clip.clip_id if clip else "", take_number, take if clip else None)
        self.length = max(self.media.picture[1], self.media.audio_s)
        self._updating = True
        self.scrub.setRange(0, round(1000 * self.length))
        self._updating = False
        self._enable()
        self.seek(min(self.position, self.length))

    def _load_picture(self, clip: ClipRef | None) -> None:
        path, start, length = None, 0.0, 0.0
        if clip is None:
            text = "No clip"
        elif clip.offline or not clip.media_path or not Path(clip.media_path).is_file():
            text = f"Media offline\n{clip.media_path or ''}"
        else:
            try:
                (start, length), text = picture_range(clip), ""
                path = Path(clip.media_path)
            except Exception as err:  # an unreadable file: the take can still be heard
                text = "Picture unreadable"
                self._fail(f"picture: {err}")
        if text:
            self._image = None
            self.screen.clear()
            self.screen.setText(text)
        self.media.set_picture(path, start, length)

    def video_source(self) -> Path | None:
        """The media file being auditioned (None: no picture)."""
        return self.media.video_path

    def audio_source(self) -> Path | None:
        """The take's WAV being auditioned (None: no take)."""
        return self.media.audio_path

    # transport -------------------------------------------------------------------------------
    @property
    def looping(self) -> bool:
        """Whether playback starts again at the end."""
        return self.loop_button.isChecked()

    def set_loop(self, on: bool) -> None:
        """Loop on or off."""
        self.loop_button.setChecked(on)

    def toggle(self) -> None:
        """Play when paused, pause when playing."""
        if self.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        """Play from the playhead (from the start when it is at the end)."""
        if not self.available or self.length <= 0 or self.playing:
            return
        if self.media.audio_path is not None and not self.media.has_audio_output():
            self._fail(NO_OUTPUT)
            return
        if self.position >= self.length - 1e-3:
            self.position = 0.0
        self.playing = True
        self._restart_clock(self.position)
        self._tick.start()
        self._enable()
        self.playing_changed.emit(True)

    def pause(self) -> None:
        """Stop where it is."""
        if not self.playing:
            return
        self.position = self._now()
        self.playing = False
        self._tick.stop()
        self.media.pause()
        self._enable()
        self.playing_changed.emit(False)

    def seek(self, seconds: float) -> None:
        """Move to `seconds` (kept within the audition's length when it has one)."""
        seconds = max(0.0, float(seconds))
        if self.length > 0:
            seconds = min(seconds, self.length)
        self.position = seconds
        if self.playing:
            self._restart_clock(seconds)
        else:
            self.media.place(seconds, play=False)
        self._show_position(seconds)

    def _now(self) -> float:
        if not self.playing:
            return self.position
        return self._origin + self._clock.elapsed() / 1000.0

    def _restart_clock(self, seconds: float) -> None:
        self._origin = seconds
        self._clock.start()
        self.media.place(seconds, play=True)

    def _advance(self) -> None:
        now = self._now()
        if now >= self.length:
            if self.looping:
                self._restart_clock(0.0)
                now = 0.0
            else:
                self.pause()
                self.position = self.length
                self._show_position(self.length)
                return
        self.position = now
        self.media.keep_in_step(now, self._clock.elapsed() / 1000.0)
        self._show_position(now)

    # display ---------------------------------------------------------------------------------
    def _show_position(self, seconds: float) -> None:
        self._updating = True
        self.scrub.setValue(round(1000 * seconds))
        self._updating = False
        self.time.setText(f"{self.clock.record(seconds)} / {self.clock.record(self.length)}")
        self.position_changed.emit(seconds)

    def _scrubbed(self, value: int) -> None:
        if not self._updating:
            self.seek(value / 1000.0)

    def _frame(self, image: QImage) -> None:
        self._image = image
        self.frames_shown += 1
        self._draw_image()

    def _draw_image(self) -> None:
        if self._image is not None:
            pixmap = QPixmap.fromImage(self._image).scaled(
                self.screen.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self.screen.setPixmap(pixmap)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        """Keep the picture fitted to the viewer."""
        super().resizeEvent(event)
        self._draw_image()

    def _fail(self, reason: str) -> None:
        line = " ".join(str(reason).split())
        self.reason.setText(line)
        self.reason.setToolTip(line)
        self.reason.show()

    def _enable(self) -> None:
        ready = self.available and self.length > 0
        for widget in (self.play_button, self.scrub):
            widget.setEnabled(ready)
        self.loop_button.setEnabled(self.available)
        self.play_button.setIcon(self._icons[1 if self.playing else 0])
        self.play_button.setText("Pause" if self.playing else "Play")

    # the inspect views' playhead -------------------------------------------------------------
    def follow(self, views: Any) -> None:
        """Keep `views`' playhead (an `InspectViews`) and the audition at one time, both ways."""
        self._views = views
        views.playhead_moved.connect(self._playhead_moved)
        self.position_changed.connect(self._move_playhead)

    def _playhead_moved(self, seconds: float) -> None:
        if not self._moving_playhead and self.available and self.length > 0:
            self.seek(seconds)

    def _move_playhead(self, seconds: float) -> None:
        if self._views is None:
            return
        self._moving_playhead = True
        try:
            self._views.set_playhead(seconds)
        finally:
            self._moving_playhead = False

    def shutdown(self) -> None:
        """Stop playback and release the media files and the temporary WAVs."""
        self.pause()
        self.media.shutdown()
