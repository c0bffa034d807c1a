"""The panel window offscreen on a rendered scene with the tiny checkpoint: running clips fills
the inspect views, Regenerate adds a take with a new seed, Cancel stops the worker at the next
stage boundary, Place writes a timeline that reads back, the GUI thread stays responsive while
a clip runs, and a missing or broken model is a message, not a crash."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from panel_fixtures import FACE_CLIPS, OFFLINE_CLIP
from panel_runs import RUN_TIMEOUT_MS
from panel_runs import run_clips as _run
from PySide6.QtCore import QSettings, Qt, QTimer

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.progress import Progress
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.panel_model.state import DONE, OFFLINE, PENDING, SPEECH_STAGES
from imagintalk_plugin.timeline.reading import read_timeline
from imagintalk_plugin.ui.settings import SettingsBox


def test_running_two_clips_fills_the_inspect_views(qtbot, make_panel) -> None:
    window = make_panel()
    on_gui_thread = []
    window.controller.subscribe(
        lambda _event: on_gui_thread.append(threading.current_thread() is threading.main_thread())
    )
    table = window.clip_table
    table.track_filter.setCurrentText("V2")
    assert table.visible_ids() == [OFFLINE_CLIP]
    table.track_filter.setCurrentText("V1")
    assert table.visible_ids() == list(FACE_CLIPS)
    qtbot.mouseClick(window.run_all_button, Qt.MouseButton.LeftButton)  # the visible clips
    qtbot.waitUntil(
        lambda: (
            all(window.controller.clip(i).status == DONE for i in FACE_CLIPS)
            and not window.controller.busy()
        ),
        timeout=RUN_TIMEOUT_MS,
    )
    assert window.controller.clip(OFFLINE_CLIP).status == OFFLINE
    assert len(on_gui_thread) > 4
    assert all(on_gui_thread)  # the worker's signals reach the state on the GUI thread only
    assert window.overall.value() == 1000
    assert all(bar.value() == 1000 for i, bar in table._bars.items() if i in FACE_CLIPS)

    table.select(["V1-002"])
    views = window.views
    assert "V1-002" in views.title.text()
    speech = window.controller.clip("V1-002").takes[0].speech
    x, y = views.items["units"].getData()
    assert len(x) == len(speech.refined.tokens) > 0
    np.testing.assert_array_equal(y, speech.refined.tokens)
    assert len(views.items["f0"].getData()[0]) == len(speech.prosody.f0_hz) > 0
    assert len(views.items["energy"].getData()[0]) > 0
    assert views.items["waveform"].xData is not None
    assert len(views.items["waveform"].xData) == speech.waveform.num_samples
    assert views.items["mouths"].image is not None
    assert views.items["mouths"].image.shape[0] == 48
    views.set_playhead(0.5)
    assert all(line.value() == pytest.approx(0.5) for line in views.lines.values())
    views.lines["f0"].setValue(0.8)  # dragging in one row moves them all
    assert views.playhead == pytest.approx(0.8)


def test_regenerate_adds_a_take_with_a_new_seed_and_circles_one(qtbot, make_panel) -> None:
    window = make_panel()
    _run(qtbot, window, ["V1-001"])
    _run(qtbot, window, ["V1-001"], regenerate=True)
    state = window.controller.clip("V1-001")
    assert [(t.number, t.style.seed) for t in state.takes] == [(1, 0), (2, 1)]
    first, second = (t.speech.codes.tokens for t in state.takes)
    assert not np.array_equal(first, second)  # another seed, another take
    panel = window.style_panel
    assert panel.seed.value() == 1
    assert panel.takes.count() == 2
    assert panel.current_take() == 2  # the new take is inspected
    assert "take 2" in window.views.title.text()
    panel.takes.setCurrentRow(0)
    assert "take 1" in window.views.title.text()
    qtbot.mouseClick(panel.circle, Qt.MouseButton.LeftButton)
    assert state.chosen_take().number == 1
    assert panel.takes.item(0).text().startswith("● take 1")


def test_cancel_stops_the_worker_at_the_next_stage(qtbot, make_panel, monkeypatch) -> None:
    """Cancel pressed while a speech stage runs: that stage ends, no other one begins."""
    from imagintalk_plugin.ui import worker

    window = make_panel()
    reached, resume = threading.Event(), threading.Event()
    after_cancel: list[Progress] = []
    real_job = worker.clip_job

    def held_job(*args, **kwargs):  # the clip job, with one stage held until Cancel
        steps = real_job(*args, **kwargs)
        try:
            while True:
                step = next(steps)
                if resume.is_set():
                    after_cancel.append(step)
                elif step.stage in SPEECH_STAGES:
                    reached.set()
                    resume.wait(30)  # this stage is still running when Cancel is pressed
                yield step
        except StopIteration as done:
            return done.value
        finally:
            steps.close()

    monkeypatch.setattr(worker, "clip_job", held_job)
    window.clip_table.select(list(FACE_CLIPS))
    qtbot.mouseClick(window.run_selected_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(reached.is_set, timeout=RUN_TIMEOUT_MS)
    assert window.cancel_button.isEnabled()
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    started = time.perf_counter()
    resume.set()
    qtbot.waitUntil(lambda: not window.controller.busy(), timeout=30_000)
    elapsed = time.perf_counter() - started
    assert after_cancel == []  # no further stage began
    assert elapsed < 5.0
    for clip_id in FACE_CLIPS:
        state = window.controller.clip(clip_id)
        assert (state.status, state.takes) == (PENDING, [])
    assert window.statusBar().currentMessage() == "cancelled; 2 clip(s) not run"
    assert not window.cancel_button.isEnabled()
    monkeypatch.setattr(worker, "clip_job", real_job)
    _run(qtbot, window, ["V1-001"])  # the worker carries on afterwards
    assert window.controller.clip("V1-001").status == DONE


def test_place_writes_circled_takes_on_a_new_timeline(qtbot, make_panel, tmp_path: Path) -> None:
    window = make_panel()
    out = tmp_path / "placed"
    window.settings_box.output.setText(str(out))
    _run(qtbot, window, list(FACE_CLIPS))
    _run(qtbot, window, ["V1-002"], regenerate=True)
    window.controller.circle("V1-002", 1)
    qtbot.mouseClick(window.place_button, Qt.MouseButton.LeftButton)
    assert window.last_output == out / "scene_imagintalk.otio"
    assert "placed 2 take(s)" in window.last_summary
    loaded = read_timeline(window.last_output)
    audio = [t for t in loaded.timeline.tracks if t.kind == otio.schema.TrackKind.Audio]
    assert [t.name for t in audio] == ["ImaginTalk Dialogue"]
    placed = list(audio[0].find_clips())
    assert [c.range_in_parent().start_time.value for c in placed] == [10, 60]
    assert [c.range_in_parent().duration.value for c in placed] == [30, 30]
    meta = [c.metadata["imagintalk"] for c in placed]
    assert [(m["source_clip_id"], m["take"], m["seed"]) for m in meta] == [
        ("V1-001", 1, 0),
        ("V1-002", 1, 0),
    ]
    assert all(Path(c.media_reference.target_url.removeprefix("file://")).is_file() for c in placed)
    qtbot.mouseClick(window.place_button, Qt.MouseButton.LeftButton)
    assert window.last_output == out / "scene_imagintalk_2.otio"  # never over the last pass


def test_the_gui_thread_stays_responsive_while_clips_run(qtbot, make_panel, tmp_path) -> None:
    """A 10 ms timer on the GUI thread while the worker loads the model, reads lips and faces
    (a cold cache) and generates two clips: the longest gap between its ticks is the GUI's
    worst event latency."""
    window = make_panel(cache=LipTrackCache(tmp_path / "cold_cache"))
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    window.clip_table.select(list(FACE_CLIPS))
    qtbot.mouseClick(window.run_selected_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: all(window.controller.clip(i).status == DONE for i in FACE_CLIPS),
        timeout=RUN_TIMEOUT_MS,
    )
    timer.stop()
    gap_ms = 1000 * float(np.max(np.diff(ticks)))
    sys.stderr.write(f"\nGUI thread: longest gap {gap_ms:.0f} ms over {len(ticks)} ticks\n")
    assert len(ticks) > 20
    assert gap_ms < 250


def test_a_missing_or_broken_model_is_a_message(qtbot, make_panel, checkpoint, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    window = make_panel(empty)
    qtbot.waitUntil(window.banner.isVisible, timeout=60_000)
    assert "lacks units" in window.banner.text()
    window.clip_table.select(["V1-001"])
    qtbot.mouseClick(window.run_selected_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.busy(), timeout=60_000)
    assert "cannot use the model" in window.banner.text()
    assert window.controller.clip("V1-001").status == PENDING

    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    (broken / "dit" / "model.safetensors").write_bytes(b"not weights")
    for weights in (broken / "dit").glob("*.safetensors"):
        weights.write_bytes(b"not weights")
    window.settings_box.use_checkpoint(broken)
    qtbot.mouseClick(window.run_selected_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.busy(), timeout=60_000)
    assert window.banner.isVisible()
    assert "cannot use the model" in window.banner.text()
    assert str(broken) in window.banner.text()

    window.settings_box.use_checkpoint(checkpoint)  # a good model clears the message
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=60_000)


def test_style_edits_apply_to_the_selected_clips(qtbot, make_panel) -> None:
    window = make_panel()
    window.clip_table.select(list(FACE_CLIPS))
    panel = window.style_panel
    assert panel.box.title() == "Style of 2 clips"
    panel.emotion.setCurrentText("happy")
    panel.pitch.setValue(2.5)
    panel.calibrated.setChecked(False)
    panel.threshold.setValue(0.4)
    panel.seed_locked.setChecked(True)
    for clip_id in FACE_CLIPS:
        style = window.controller.clip(clip_id).style
        assert (style.emotion, style.pitch, style.threshold, style.seed_locked) == (
            "happy",
            2.5,
            0.4,
            True,
        )
    panel.emotion.setCurrentText("from the face")
    assert window.controller.clip("V1-002").style.emotion is None
    window.clip_table.select(["V1-001"])
    assert panel.box.title() == "Style"
    assert panel.pitch.value() == 2.5


def test_settings_persist(qtbot, store: QSettings, checkpoint: Path, tmp_path: Path) -> None:
    box = SettingsBox(store)
    qtbot.addWidget(box)
    assert box.model_config().checkpoint is None  # the shipped demo model
    box.checkpoint.setText(str(checkpoint))
    box.checkpoint.editingFinished.emit()
    box.device.setCurrentText("cpu")
    box.backend.setCurrentText("onnx")
    box.threads.setValue(3)
    box.output.setText(str(tmp_path))
    box.output.editingFinished.emit()
    again = SettingsBox(QSettings(store.fileName(), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    config = again.model_config()
    assert (config.checkpoint, config.device, config.backend, config.threads) == (
        checkpoint,
        "cpu",
        "onnx",
        3,
    )
    assert again.output_folder(None) == tmp_path


def test_the_panel_command(qtbot, monkeypatch, scene, checkpoint, store, tmp_path) -> None:
    assert main(["panel", str(tmp_path / "nothing.otio")]) == 2
    started = []

    def fake_run(command, check):
        started.append(command)
        return type("Done", (), {"returncode": 0})()

    monkeypatch.setattr("subprocess.run", fake_run)
    assert main(["panel", str(scene), "--checkpoint", str(checkpoint)]) == 0
    assert started == [
        [sys.executable, "-m", "imagintalk_plugin.ui", str(scene), "--checkpoint", str(checkpoint)]
    ]
    from imagintalk_plugin.ui.app import open_panel  # what that process runs

    window = open_panel(scene, checkpoint, store)
    qtbot.addWidget(window)
    try:
        assert window.isVisible()
        assert window.controller.clip_ids() == [*FACE_CLIPS, OFFLINE_CLIP]
        assert window.settings_box.model_config().checkpoint == checkpoint
        assert window.windowTitle() == "ImaginTalk — scene.otio"
    finally:
        window.host.shutdown()
