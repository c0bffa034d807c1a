"""The ImaginTalk panel: run, inspect, tweak and place dialogue for a timeline's clips.

A main window with docks (`panel_layout`): the clip list with faces, Open, Relink media (look
for offline clips' media in a folder), Run / Cancel and progress (left), the audition player
over the inspect views of the current take (centre, one playhead for both), the clip's ADR line,
character and cast (`adr_controls`), style controls, timbre and takes (right), settings and
Place (bottom). The window only wires
widgets to the `PanelController` (state) and the `WorkerHost` (model work on its own thread);
it never runs model code itself. Takes and clip settings are kept in the timeline's session
(`session_store`) as they are made; opening the timeline again shows them, with one status line
on what could not be brought back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Slot
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
)

from imagintalk_plugin.core.errors import ImagintalkError
from imagintalk_plugin.core.paths import default_checkpoint
from imagintalk_plugin.core.progress import Progress
from imagintalk_plugin.panel_model.controller import PanelController, next_free_output
from imagintalk_plugin.panel_model.saved_takes import SavedSpeech, SavedTakeError, track_strip
from imagintalk_plugin.panel_model.state import ClipResult, PanelEvent
from imagintalk_plugin.ui.adr_controls import AdrControls
from imagintalk_plugin.ui.audition import AuditionPlayer
from imagintalk_plugin.ui.clip_table import ClipTable
from imagintalk_plugin.ui.inspect_views import InspectViews
from imagintalk_plugin.ui.panel_layout import arrange
from imagintalk_plugin.ui.settings import SettingsBox
from imagintalk_plugin.ui.style_panel import StylePanel
from imagintalk_plugin.ui.timecode_axis import ClipClock
from imagintalk_plugin.ui.worker import WorkerHost

TIMELINE_FILTER = "Timelines (*.otio *.otioz *.xml *.fcpxml *.edl *.aaf);;All files (*)"
BANNER_STYLE = "background:#b71c1c; color:white; padding:6px; font-weight:bold;"


class PanelWindow(QMainWindow):
    """The panel's main window."""

    def __init__(
        self,
        controller: PanelController | None = None,
        store: QSettings | None = None,
        cache: Any = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("ImaginTalk")
        self.controller = controller or PanelController()
        self.host = WorkerHost(self, cache)
        self.settings_box = SettingsBox(store)
        self.clip_table = ClipTable(self.controller, cache=cache)
        self.views = InspectViews()
        self.audition = AuditionPlayer()
        self.audition.follow(self.views)
        self.adr = AdrControls(self.controller)
        self.style_panel = StylePanel(adr=self.adr)
        self.banner = QLabel()
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.open_button = QPushButton("Open timeline…")
        self.relink_button = QPushButton("Relink media…")
        self.relink_button.setToolTip("look for offline clips' media in a folder (and below)")
        self.run_selected_button = QPushButton("Run selected")
        self.run_all_button = QPushButton("Run all")
        self.cancel_button = QPushButton("Cancel")
        self.place_button = QPushButton("Place takes on timeline")
        self.overall = QProgressBar()
        self.overall.setRange(0, 1000)
        self.last_output: Path | None = None
        self.last_summary = ""
        self.last_error = ""  # why the last place failed
        self.place_action: Callable[[], object] = self.place  # what Place does (a host link's)
        self._inspected: dict[str, int] = {}  # clip id -> take number shown
        self._total = self._finished = self._noted = 0
        self._side_docks = arrange(self, self)
        self._connect()
        self._update_buttons()
        self._settings_changed()
        self.resize(1400, 900)

    # layout and wiring -----------------------------------------------------------------
    def _connect(self) -> None:
        worker = self.host.worker
        worker.clip_started.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        worker.clip_done.connect(self._on_done)
        worker.clip_failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.batch_finished.connect(self._on_batch_finished)
        worker.model_error.connect(self._on_model_error)
        worker.model_ready.connect(self._on_model_ready)
        self.open_button.clicked.connect(self._browse_timeline)
        self.relink_button.clicked.connect(self._browse_media)
        self.run_selected_button.clicked.connect(lambda: self.run(self.clip_table.selected_ids()))
        self.run_all_button.clicked.connect(lambda: self.run(self.clip_table.visible_ids()))
        self.cancel_button.clicked.connect(self.cancel)
        self.place_button.clicked.connect(lambda: self.place_action())
        self.settings_box.changed.connect(self._settings_changed)
        self.clip_table.current_changed.connect(self._show_current)
        self.clip_table.selection_changed.connect(self._show_current)
        self.style_panel.style_edited.connect(self._style_edited)
        self.style_panel.regenerate_requested.connect(self.regenerate)
        self.style_panel.circle_requested.connect(self._circle)
        self.style_panel.take_chosen.connect(self._take_chosen)
        self.controller.subscribe(self._on_event)

    def _status(self, text: str) -> None:
        self.statusBar().showMessage(text)

    # timeline --------------------------------------------------------------------------
    def open_timeline(self, path: Path) -> bool:
        """Load a timeline; a file that cannot be read is reported, not raised."""
        if self.controller.busy():
            self._status("cancel the running clips before opening another timeline")
            return False
        try:
            self.controller.open_timeline(Path(path))
        except ImagintalkError as err:
            self._status(str(err))
            return False
        self._inspected.clear()
        self._update_buttons()
        self.setWindowTitle(f"ImaginTalk — {Path(path).name}")
        self._status(self._opened_line(f"{len(self.controller.clips)} clip(s) in {path}"))
        return True

    def _opened_line(self, head: str) -> str:
        """`head`, then what reopening the session found, as one status line."""
        notes = self.controller.session_notes
        if not notes:
            return head
        more = f" (and {len(notes) - 1} more note(s) in the clip list)" if len(notes) > 1 else ""
        return f"{head}; {notes[0]}{more}"

    def _browse_timeline(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open timeline", "", TIMELINE_FILTER)
        if path:
            self.open_timeline(Path(path))

    def relink(self, folder: Path) -> str:
        """Look for the offline clips' media under `folder`; the clip list follows and the
        report's summary goes to the status bar (returned; "" when it could not run)."""
        try:
            summary = self.controller.relink([Path(folder)]).summary()
        except ImagintalkError as err:
            self._status(str(err))
            return ""
        self._status(summary)
        return summary

    def _browse_media(self) -> None:
        start = str(self.controller.loaded.path.parent) if self.controller.loaded else ""
        folder = QFileDialog.getExistingDirectory(self, "Relink media: folder to search", start)
        if folder:
            self.relink(Path(folder))

    # running ---------------------------------------------------------------------------
    def run(self, clip_ids: list[str], regenerate: bool = False) -> int:
        """Queue takes for these clips on the worker; returns how many were queued."""
        requests = [r for i in clip_ids if (r := self.controller.request(i, regenerate))]
        if not requests:
            self._status("nothing to run: the clips are done, offline or already queued")
            return 0
        self._total += len(requests)
        self.host.submit(requests, self.settings_box.model_config())
        self._status(f"queued {len(requests)} clip(s)")
        self._update_buttons()
        return len(requests)

    def regenerate(self) -> int:
        """A new take for every selected clip (a new seed unless the seed is locked)."""
        ids = self.clip_table.selected_ids() or [self.clip_table.current_id()]
        return self.run([i for i in ids if i], regenerate=True)

    def cancel(self) -> None:
        """Stop at the next stage boundary; finished takes stay."""
        self.host.cancel()
        self._status("cancelling at the next stage…")

    @Slot(str)
    def _on_started(self, clip_id: str) -> None:
        self.controller.started(clip_id)

    @Slot(object)
    def _on_progress(self, step: Progress) -> None:
        self.controller.progressed(step)
        state = self.controller.clips.get(step.clip_id or "")
        if state is not None and self._total:
            self.overall.setValue(round(1000 * (self._finished + state.fraction) / self._total))

    @Slot(object)
    def _on_done(self, result: ClipResult) -> None:
        self._finished += 1
        self._inspected[result.clip_id] = result.take
        take = self.controller.finished(result)
        if take.notes:  # also in the clip list's Note column and under the line
            self._noted += 1
            self._status(f"{result.clip_id} take {take.number}: {'; '.join(take.notes)}")

    @Slot(str, str)
    def _on_failed(self, clip_id: str, reason: str) -> None:
        self._finished += 1
        self.controller.failed(clip_id, reason)

    @Slot(object)
    def _on_cancelled(self, unrun: list[str]) -> None:
        self._status(f"cancelled; {len(unrun)} clip(s) not run")

    @Slot(object)
    def _on_batch_finished(self, unrun: list[str]) -> None:
        self.controller.unqueued(unrun)
        self._total -= len(unrun)
        if not self.controller.busy():
            self.overall.setValue(1000 if self._finished else 0)
            self._total = self._finished = 0
            done = sum(1 for c in self.controller.clips.values() if c.takes)
            noted = (
                f"; {self._noted} take(s) with notes (see the Note column)" if self._noted else ""
            )
            self._noted = 0
            if not unrun:
                total = len(self.controller.clips)
                self._status(f"finished: {done} of {total} clip(s) have takes{noted}")
        self._update_buttons()

    @Slot(str)
    def _on_model_error(self, message: str) -> None:
        self.banner.setText(f"{message}\nChoose a complete checkpoint under Settings.")
        self.banner.show()

    @Slot(str)
    def _on_model_ready(self, message: str) -> None:
        self.banner.hide()
        self._status(message)

    def _settings_changed(self) -> None:
        config = self.settings_box.model_config()
        self.host.check(config)
        why = self.adr.use_model(config.checkpoint or default_checkpoint())  # its voice bank
        if why:
            self._status(why)

    @property
    def queue_counts(self) -> tuple[int, int]:
        """(clips finished, clips queued) of the current run, as the overall bar shows them."""
        return self._finished, self._total

    def _update_buttons(self) -> None:
        busy = self.controller.busy()
        self.cancel_button.setEnabled(busy)
        self.relink_button.setEnabled(not busy and self.controller.loaded is not None)

    # inspecting and styling --------------------------------------------------------------
    def _on_event(self, event: PanelEvent) -> None:
        if event.kind == "timeline":
            self.views.clear()
            sources = [
                (i, f"{i}  {self.controller.clip(i).ref.name}")
                for i in self.controller.face_sources()
            ]
            self.style_panel.timbre.set_sources(sources)
            self._show_current()
        elif event.kind == "cast" or (
            event.kind in ("takes", "style") and event.clip_id == self.clip_table.current_id()
        ):
            self._show_current()
        elif event.kind == "session":
            self._status(self.controller.session_error)

    def _show_current(self, *_args: object) -> None:
        current_id = self.clip_table.current_id()
        state = self.controller.clips.get(current_id)
        selected = [self.controller.clip(i) for i in self.clip_table.selected_ids()]
        take_number = self._inspected.get(current_id)
        take = None
        if state is not None:
            take = next((t for t in state.takes if t.number == take_number), None)
            take = take or state.chosen_take()
        cast = self.controller.cast_of(state.style.character) if state is not None else None
        self.style_panel.show_clips(selected, state, take.number if take else None, cast)
        self.adr.show_clip(current_id, self.clip_table.selected_ids(), take)
        ref = state.ref if state is not None else None
        self.views.set_clock(ClipClock.of(ref) if ref is not None else None)
        if state is None or take is None:
            self.audition.load(ref)
            message = f"{current_id}: no take yet" if current_id else "No clip selected"
            self.views.clear(message, "Run the clip to see its take here." if current_id else "")
            return
        recipe = take.style.describe(take.cast_voice())
        title = f"{state.clip_id} {state.ref.name} — take {take.number} ({recipe})"
        try:
            mouths = track_strip(state.track)
            if mouths is None and isinstance(take.speech, SavedSpeech):
                mouths = take.speech.mouths
            self.views.show_take(title, take.speech, mouths)
            waveform = take.speech.waveform
        except SavedTakeError as err:  # its files went bad since the session was opened
            self.audition.load(ref)
            self.views.clear(f"{state.clip_id} take {take.number} cannot be shown", str(err))
            return
        self.audition.load(ref, waveform, take.number)

    def _take_chosen(self, number: int) -> None:
        current = self.clip_table.current_id()
        if current:
            self._inspected[current] = number
            self._show_current()

    def _circle(self, number: int) -> None:
        current = self.clip_table.current_id()
        if current:
            self._inspected[current] = number
            self.controller.circle(current, number)

    def _style_edited(self, change: dict) -> None:
        ids = self.clip_table.selected_ids() or [self.clip_table.current_id()]
        try:
            self.controller.set_style([i for i in ids if i], **change)
        except (ValueError, ImagintalkError) as err:
            self._status(str(err))
            if {"timbre_clip", "reference_audio"} & change.keys():
                path = str(change.get("reference_audio") or "")  # the name is enough here
                line = str(err).replace(path, Path(path).name) if path else str(err)
                self.style_panel.timbre.show_error(line)
        else:
            if {"timbre_clip", "reference_audio"} & change.keys():
                self.style_panel.timbre.show_error("")

    # placing ---------------------------------------------------------------------------
    def place(self, folder: Path | None = None) -> str:
        """Write circled (else latest) takes and a new timeline into `folder` (default: the
        output setting, else beside the input), never over an earlier one; "" on failure."""
        loaded = self.controller.loaded
        if loaded is None:
            self.last_error = "open a timeline first"
            self._status(self.last_error)
            return ""
        folder = folder or self.settings_box.output_folder(loaded.path)
        output = next_free_output(folder, loaded.path.stem)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            summary = self.controller.place(output)
        except (ImagintalkError, OSError) as err:
            self.last_error = f"cannot place: {err}"
            self._status(self.last_error)
            return ""
        self.last_output, self.last_summary, self.last_error = output, summary, ""
        self._status(summary.splitlines()[0])
        return summary

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        """Give the clip list and the style column their widths once the window has its own."""
        super().showEvent(event)
        if self._side_docks:
            self.resizeDocks(self._side_docks, [520, 320], Qt.Orientation.Horizontal)
            self._side_docks = []

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Release what must not outlive the panel: the audition's temporary WAVs first, then
        the thumbnails, the worker (after its running stage, waiting at most `timeout_ms`) and
        the face helper process. Returns whether the worker stopped in time."""
        self.audition.shutdown()
        self.clip_table.thumbnails.shutdown()
        return self.host.shutdown(timeout_ms)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        """Stop the worker (after its running stage) and the player before closing."""
        self.shutdown()
        super().closeEvent(event)
