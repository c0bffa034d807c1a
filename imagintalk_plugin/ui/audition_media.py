"""The audition's two media players: a clip's picture and a take's audio, placed on one time.

`MediaPair` owns a `QMediaPlayer` for the clip's media file (picture only, drawn through a
`QVideoSink`; the file's own sound, if any, is not routed anywhere) and one for the take,
written once to a temporary 16-bit WAV. Times are seconds from the clip's first frame: the
picture plays from its source range's start inside the file, the take from its own start.
A player ignores seeks while it is still loading a file, so each is placed again when its
file has loaded. The transport clock lives in `audition.AuditionPlayer`; this only seeks,
starts, stops and re-seeks players that drift.

QtMultimedia is imported by `multimedia()` when a pair is made: where it cannot load (Linux
without libpulse0, say) `available` is False and `reason` says why in one line.

The WAVs live in `<tmp>/imagintalk-audition-<pid>-*/`, removed when the pair shuts down. A panel
killed before that leaves its folder behind; the next pair made on the machine removes the
folders whose process is gone (`remove_stale_folders`).

Every control call (source, seek, play, pause, stop) is queued to Qt's event loop rather than
made from Python. PySide holds the GIL through a call it makes, while the players' own threads
tear their renderers down and call back into Python (PySide's `disconnectNotify` override on
the Python-made audio output) with a Qt mutex held: a direct `stop()` on the GUI thread can
wait for that mutex while the renderer waits for the GIL, and the panel freezes. Queued calls
run from `exec()`, which releases the GIL.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import tempfile
import wave
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from PySide6.QtCore import (
    Q_ARG,
    QEventLoop,
    QLoggingCategory,
    QMetaObject,
    QObject,
    Qt,
    QUrl,
    Signal,
)

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.signals import Waveform

DRIFT_S = 0.25  # a player further than this from the transport clock is re-seeked
SETTLE_S = 0.5  # after a start or seek, players get this long before drift is checked
LAST_FRAME_S = 0.04  # a picture past its end holds the frame this long before its end
FOLDER_PREFIX = "imagintalk-audition-"
_FOLDER_PID = re.compile(re.escape(FOLDER_PREFIX) + r"(\d+)-")
_swept = False  # stale folders are looked for once per process


def process_alive(pid: int) -> bool:
    """Whether process `pid` exists (and is not a zombie waiting to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS) or it just ended: os.kill said it was there
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def remove_stale_folders(tmp: Path | None = None) -> list[Path]:
    """Remove audition folders whose panel process is gone (killed before it could clean up);
    returns what was removed. Folders of live processes, and names without a pid, stay."""
    removed = []
    for folder in Path(tmp or tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        match = _FOLDER_PID.match(folder.name)
        if match and folder.is_dir() and not process_alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def multimedia() -> tuple[SimpleNamespace | None, str]:
    """QtMultimedia's classes, or None and a one-line reason it cannot load."""
    try:
        mm = importlib.import_module("PySide6.QtMultimedia")
    except ImportError as err:  # e.g. libpulse.so.0 missing on Linux
        text = " ".join(str(err).split()) or type(err).__name__
        return None, f"audition unavailable: QtMultimedia cannot load ({text})"
    QLoggingCategory.setFilterRules("qt.multimedia.ffmpeg*.info=false")  # per-file stream dumps
    names = SimpleNamespace(
        player=mm.QMediaPlayer, output=mm.QAudioOutput, sink=mm.QVideoSink, devices=mm.QMediaDevices
    )
    return names, ""


def invoke(target: QObject, method: str, *args: Any) -> None:
    """Queue `target.method(*args)` to the event loop (see the module's note on the GIL)."""
    QMetaObject.invokeMethod(target, method, Qt.ConnectionType.QueuedConnection, *args)


def seek_arg(ms: int) -> Any:
    """The argument of a queued `QMediaPlayer.setPosition`."""
    return Q_ARG("qint64", ms)


def write_take_wav(waveform: Waveform, path: Path) -> Path:
    """The take as 16-bit PCM mono WAV (what any QMediaPlayer backend plays)."""
    samples = waveform.samples if waveform.samples.ndim == 1 else waveform.samples.mean(axis=0)
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(waveform.sample_rate))
        out.writeframes(pcm.tobytes())
    return path


def picture_range(clip: ClipRef) -> tuple[float, float]:
    """(start, length) in seconds of the clip's picture inside its media file."""
    from imagintalk_plugin.frontend.clip_source import clip_range_seconds
    from imagintalk_plugin.frontend.decoding import probe_video

    start_s, end_s = clip_range_seconds(clip, probe_video(Path(str(clip.media_path))))
    return start_s, end_s - start_s


class MediaPair(QObject):
    """A picture player and a take player kept at one time."""

    frame = Signal(object)  # QImage of the picture player's newest frame
    failed = Signal(str)  # one line: a player could not play its file

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.picture = (0.0, 0.0)  # start in the media file, length (seconds)
        self.audio_s = 0.0  # the take's length
        self.video_path: Path | None = None
        self.audio_path: Path | None = None
        global _swept
        if not _swept:
            _swept = True
            remove_stale_folders()
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")
        self._wavs: dict[tuple[str, int], tuple[Waveform, Path]] = {}
        self._loading: set[Any] = set()  # players given a file that has not loaded yet
        self._check_after = 0.0  # clock seconds before which drift is not checked
        self._at: tuple[float, bool] = (0.0, False)  # where the players should be, playing?
        mm, self.reason = multimedia()
        self.available = mm is not None
        self._devices = mm.devices if mm is not None else None
        self.video: Any = None
        self.audio: Any = None
        if mm is None:
            return
        self.video, self.audio = mm.player(self), mm.player(self)
        self._sink, self._output = mm.sink(self), mm.output(self)
        self.video.setVideoSink(self._sink)
        self.audio.setAudioOutput(self._output)
        self._sink.videoFrameChanged.connect(self._new_frame)
        self.video.errorOccurred.connect(lambda _e, text: self.failed.emit(f"picture: {text}"))
        self.audio.errorOccurred.connect(lambda _e, text: self.failed.emit(f"take: {text}"))
        for player in (self.video, self.audio):
            player.mediaStatusChanged.connect(lambda status, p=player: self._loaded(p, status))

    @property
    def folder(self) -> Path:
        """Where the take WAVs are written (removed by `shutdown`)."""
        return Path(self._tmp.name)

    def has_audio_output(self) -> bool:
        """Whether the system offers an audio output device to play a take on."""
        return self._devices is not None and bool(self._devices.audioOutputs())

    # files -----------------------------------------------------------------------------------
    def set_picture(self, path: Path | None, start_s: float = 0.0, length_s: float = 0.0) -> None:
        """Play `path` from `start_s` for `length_s` (None: no picture)."""
        self.picture = (start_s, length_s) if path is not None else (0.0, 0.0)
        if self.video is not None and path != self.video_path:
            self._set_source(self.video, path)
        self.video_path = path

    def set_take(self, clip_id: str, number: int, take: Waveform | None) -> None:
        """Play a take of a clip (None: no take); each take is written to a WAV once."""
        path = None
        self.audio_s = take.num_samples / take.sample_rate if take is not None else 0.0
        if take is not None and take.num_samples and self.available:
            known = self._wavs.get((clip_id, number))
            if known is not None and known[0] is take:
                path = known[1]
            else:  # a new name each time: a player may still hold an older file
                folder = Path(self._tmp.name)
                name = f"{clip_id}_take{number}_{sum(1 for _ in folder.iterdir())}.wav"
                path = write_take_wav(take, folder / name)
                self._wavs[(clip_id, number)] = (take, path)
        if self.audio is not None and path != self.audio_path:
            self._set_source(self.audio, path)
        self.audio_path = path

    def _set_source(self, player: Any, path: Path | None) -> None:
        invoke(player, "setSource", Q_ARG(QUrl, QUrl.fromLocalFile(str(path)) if path else QUrl()))
        if path is not None:
            self._loading.add(player)

    def _loaded(self, player: Any, status: Any) -> None:
        if player in self._loading and status == type(player).MediaStatus.LoadedMedia:
            self._loading.discard(player)
            for track in self._tracks():
                if track[0] is player:
                    self._place(*track, *self._at)

    def _new_frame(self, frame: Any) -> None:
        image = frame.toImage()
        if not image.isNull() and self.video_path is not None:
            self.frame.emit(image)

    # placing ---------------------------------------------------------------------------------
    def _tracks(self) -> list[tuple[Any, float, float]]:
        """(player, its offset in its file, its length) of the loaded picture and take."""
        tracks = []
        if self.video is not None and self.video_path is not None:
            tracks.append((self.video, *self.picture))
        if self.audio is not None and self.audio_path is not None:
            tracks.append((self.audio, 0.0, self.audio_s))
        return tracks

    @staticmethod
    def _place(player: Any, offset: float, end: float, seconds: float, play: bool) -> None:
        at = round(1000 * (offset + min(seconds, max(0.0, end - LAST_FRAME_S))))
        invoke(player, "setPosition", seek_arg(at))
        invoke(player, "play" if play and seconds < end else "pause")

    def place(self, seconds: float, play: bool) -> None:
        """Seek both players to `seconds`; each plays (when `play`) only where it has media."""
        self._at = (seconds, play)
        self._check_after = SETTLE_S
        for track in self._tracks():
            self._place(*track, seconds, play)

    def pause(self) -> None:
        """Pause both where they are."""
        self._at = (self._at[0], False)
        for player, _offset, _end in self._tracks():
            invoke(player, "pause")

    def keep_in_step(self, now: float, elapsed: float) -> None:
        """At `now` on the transport, `elapsed` seconds after it started: stop a player whose
        media has ended (the picture holds its last frame) and re-seek one that drifted."""
        self._at = (now, True)
        for player, offset, end in self._tracks():
            if now >= end:
                if player.isPlaying():
                    invoke(player, "pause")
            elif (
                elapsed > self._check_after
                and abs(player.position() / 1000.0 - offset - now) > DRIFT_S
            ):
                invoke(player, "setPosition", seek_arg(round(1000 * (offset + now))))
                self._check_after = elapsed + SETTLE_S

    def shutdown(self) -> None:
        """Stop, let go of the files and remove the temporary WAVs (waits, GIL released, for
        the players to have stopped)."""
        players = [p for p in (self.video, self.audio) if p is not None]
        for player in players:
            invoke(player, "stop")
            self._set_source(player, None)
        if players:
            loop = QEventLoop()
            invoke(loop, "quit")  # runs after the calls above: one queue, in order
            loop.exec()
        self._loading.clear()
        self.video_path = self.audio_path = None
        self._wavs.clear()
        self._tmp.cleanup()
