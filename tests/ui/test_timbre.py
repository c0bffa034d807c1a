"""Timbre overrides in the panel: from the clip's face (default), another clip's face or a
reference voice file, picked in the style controls. A bad file is a one-line message in the
panel; the take's settings get `VoiceOverrides.face` / `reference_voice` (the pipeline's clip
job resolves them), and a take made with them records where its timbre came from. (Checking the
choices and the files without Qt: tests/panel_model/test_timbre_choices.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from panel_fixtures import FACE_CLIPS, face_voice
from panel_runs import run_clips

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.panel_model.state import FAILED
from imagintalk_plugin.pipeline import clip_job as pipeline_clip_job
from imagintalk_plugin.pipeline.voice_overrides_io import (
    clip_face_embedding,
    reference_voice_embedding,
)
from imagintalk_plugin.ui import timbre_controls
from imagintalk_plugin.ui.timbre_controls import FROM_AUDIO, FROM_CLIP, FROM_FACE


@pytest.fixture(scope="module")
def voice(videos: list[Path]) -> Path:
    """The ground-truth speech of the first rendered face (16 kHz, a couple of seconds)."""
    return face_voice(videos)


@pytest.fixture
def recorded(monkeypatch) -> list[Any]:
    """The SpeechSettings each take is generated with (the worker runs the pipeline's clip job)."""
    calls: list[Any] = []
    real = pipeline_clip_job.speak_track

    def speak_track(models, stages, track, settings=None, batch_size=1):
        calls.append(settings)
        return (yield from real(models, stages, track, settings, batch_size))

    monkeypatch.setattr(pipeline_clip_job, "speak_track", speak_track)
    return calls


def test_timbre_from_another_clips_face(qtbot, make_panel, recorded) -> None:
    window = make_panel()
    timbre = window.style_panel.timbre
    window.clip_table.select(["V1-001"])
    assert timbre.mode.currentText() == FROM_FACE
    assert [timbre.clip.itemData(i) for i in range(timbre.clip.count())] == list(FACE_CLIPS)
    timbre.mode.setCurrentText(FROM_CLIP)  # offers another clip than the one shown
    style = window.controller.clip("V1-001").style
    assert style.timbre_clip == "V1-002"
    assert (timbre.mode.currentText(), timbre.clip.currentData()) == (FROM_CLIP, "V1-002")
    assert timbre.clip.isVisibleTo(window)

    run_clips(qtbot, window, ["V1-001"])
    face = recorded[-1].overrides.face
    assert face is not None
    assert face.shape == (128,)
    assert recorded[-1].overrides.reference_voice is None
    take = window.controller.clip("V1-001").takes[-1]
    assert take.style.timbre_clip == "V1-002"
    assert "timbre from V1-002's face" in window.style_panel.takes.item(0).text()
    assert take.speech.take.settings["timbre"] == {"source": "clip face", "clip_id": "V1-002"}
    assert take.speech.take.settings["other_face"] is True

    run_clips(qtbot, window, ["V1-002"])  # its own face: no override, the same embedding
    assert recorded[-1].overrides.face is None
    np.testing.assert_allclose(face, window.controller.clip("V1-002").track.face_embedding)
    np.testing.assert_allclose(
        face, drive(clip_face_embedding(window.controller.clip("V1-002").ref))
    )
    assert not np.allclose(face, window.controller.clip("V1-001").track.face_embedding)

    window.clip_table.select(["V1-001"])  # back to its own face, and a regenerated take
    timbre.mode.setCurrentText(FROM_FACE)
    assert window.controller.clip("V1-001").style.timbre_clip is None
    run_clips(qtbot, window, ["V1-001"], regenerate=True)
    assert recorded[-1].overrides.face is None
    assert window.controller.clip("V1-001").takes[-1].label().endswith("timbre from face")


def test_timbre_from_a_reference_voice(qtbot, make_panel, recorded, voice, monkeypatch) -> None:
    window = make_panel()
    timbre = window.style_panel.timbre
    picked = [str(voice)]
    monkeypatch.setattr(
        timbre_controls.QFileDialog, "getOpenFileName", lambda *a, **k: (picked.pop(0), "")
    )
    window.clip_table.select(["V1-002"])
    timbre.mode.setCurrentText(FROM_AUDIO)  # opens the file dialog
    style = window.controller.clip("V1-002").style
    assert style.reference_audio == voice
    assert timbre.file.text() == voice.name
    assert not timbre.error.isVisible()

    run_clips(qtbot, window, ["V1-002"])
    settings = recorded[-1]
    assert settings.overrides.face is None
    np.testing.assert_allclose(settings.overrides.reference_voice, reference_voice_embedding(voice))
    take = window.controller.clip("V1-002").takes[-1]
    assert take.speech.take.settings["reference_voice"] is True
    assert take.speech.take.settings["timbre"] == {"source": "reference audio", "path": str(voice)}
    assert take.label().endswith(f"timbre from {voice.name}")


def test_a_bad_reference_file_is_a_one_line_message(
    qtbot, make_panel, voice, monkeypatch, tmp_path
) -> None:
    window = make_panel()
    timbre = window.style_panel.timbre
    bad = tmp_path / "notes.wav"
    bad.write_text("meeting notes, not a recording\n" * 20)
    picked: list[str] = []
    monkeypatch.setattr(
        timbre_controls.QFileDialog, "getOpenFileName", lambda *a, **k: (picked.pop(0), "")
    )
    window.clip_table.select(["V1-001"])
    picked.append(str(bad))
    timbre.mode.setCurrentText(FROM_AUDIO)
    assert timbre.error.isVisible()
    assert "not a WAV file" in timbre.error.toolTip()
    assert "\n" not in timbre.error.text()
    assert "not a WAV file" in window.statusBar().currentMessage()
    assert window.controller.clip("V1-001").style.reference_audio is None  # unchanged
    assert timbre.mode.currentText() == FROM_FACE  # the control shows what holds

    gone = tmp_path / "gone.wav"  # fine when picked, deleted before the take runs
    shutil.copy(voice, gone)
    picked.append(str(gone))
    timbre.mode.setCurrentText(FROM_AUDIO)
    assert not timbre.error.isVisible()
    gone.unlink()
    window.clip_table.select(["V1-001"])
    window.run(["V1-001"])
    qtbot.waitUntil(lambda: not window.controller.busy(), timeout=60_000)
    state = window.controller.clip("V1-001")
    assert state.status == FAILED
    assert "file not found" in state.error
    assert "\n" not in state.error
