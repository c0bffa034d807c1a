"""The panel in an editor's words: record timecode (drop-frame where the timeline is) on the
inspect views' axis and the audition's readout, "no take yet" rather than an empty axis, one
clear line when there is no audio output to play a take on, plainly labelled style controls
with the model's knobs under a collapsed "Advanced"."""

from __future__ import annotations

import numpy as np
import pytest
from panel_fixtures import FACE_CLIPS
from panel_runs import run_clips
from PySide6.QtWidgets import QFormLayout

from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.panel_model.controller import PanelController
from imagintalk_plugin.ui.audition import NO_OUTPUT, AuditionPlayer
from imagintalk_plugin.ui.audition_media import MediaPair
from imagintalk_plugin.ui.style_panel import StylePanel
from imagintalk_plugin.ui.timecode_axis import ClipClock


def test_times_read_as_record_timecode(qtbot, make_panel) -> None:
    window = make_panel()
    window.clip_table.select(["V1-001"])  # record frame 10 at 24 fps, timeline at 01:00:00:00
    axis = window.views.time_axis
    assert axis.tickStrings([0.0, 0.5, 1.0], 1.0, 0.5) == [
        "01:00:00:10",
        "01:00:00:22",
        "01:00:01:10",
    ]
    assert window.views.plots["mouths"].getAxis("bottom") is axis
    frame = 1 / 24
    assert all(spacing >= frame * 0.999 for spacing, _ in axis.tickSpacing(0.0, 0.01, 800))
    assert window.audition.time.text() == "01:00:00:10 / 01:00:01:16"  # 30 frames long
    window.clip_table.select(["V1-002"])  # record frame 60
    assert axis.tickStrings([0.0], 1.0, 1.0) == ["01:00:02:12"]


def test_drop_frame_timecode() -> None:
    clock = ClipClock(30000 / 1001, True, 0)
    assert [clock.record(s) for s in (60.0, 60.07, 599.9)] == [
        "00:00:59;28",
        "00:01:00;02",  # ;00 and ;01 do not exist at minute 1
        "00:09:59;27",
    ]
    assert clock.duration(1.5) == "00:00:01:14"  # lengths are never drop-frame
    assert ClipClock(25.0, False, 90000).record(0.5) == "01:00:00:12"


def test_an_empty_view_says_no_take_yet(qtbot, make_panel) -> None:
    window = make_panel()
    views = window.views
    window.clip_table.select([FACE_CLIPS[0]])
    assert not views.showing_plots
    assert views.empty.text().startswith(f"{FACE_CLIPS[0]}: no take yet")
    run_clips(qtbot, window, [FACE_CLIPS[0]])
    window.clip_table.select([FACE_CLIPS[0]])
    assert views.showing_plots


def test_play_without_an_audio_output_says_so(qtbot, scene, monkeypatch) -> None:
    player = AuditionPlayer()
    qtbot.addWidget(player)
    if not player.available:
        pytest.skip(player.media.reason)
    controller = PanelController(keep_session=False)
    controller.open_timeline(scene)
    take = Waveform(np.full(16000, 0.1, np.float32), 16000)
    player.load(controller.clip(FACE_CLIPS[0]).ref, take, 1)
    monkeypatch.setattr(MediaPair, "has_audio_output", lambda _self: False)
    player.play()
    assert not player.playing
    assert player.reason.text() == NO_OUTPUT
    assert not player.reason.isHidden()
    monkeypatch.setattr(MediaPair, "has_audio_output", lambda _self: True)
    player.play()
    assert player.playing
    player.pause()
    player.shutdown()


def test_style_controls_have_plain_labels_and_a_collapsed_advanced(qtbot) -> None:
    panel = StylePanel()
    qtbot.addWidget(panel)
    panel.show()
    form = panel.box.layout()
    assert isinstance(form, QFormLayout)
    labels = {
        form.labelForField(w).text()
        for w in (panel.pitch, panel.speed, panel.emotion, panel.seed.parentWidget())
    }
    assert labels == {"Pitch (semitones)", "Speed", "Emotion", "Variation seed"}
    knobs = (panel.guidance, panel.steps, panel.threshold)
    assert not panel.advanced.is_open
    assert not any(w.isVisible() for w in knobs)
    panel.box.setEnabled(True)  # as it is while a clip is shown
    panel.advanced.header.click()
    assert panel.advanced.is_open
    assert all(w.isVisible() for w in knobs)
    advanced_form = panel.advanced.body.layout()
    assert advanced_form.labelForField(panel.guidance).text() == "Guidance"
    assert advanced_form.labelForField(panel.steps).text() == "Diffusion steps"
