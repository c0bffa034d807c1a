"""Timbre overrides: from the clip's face (default), another clip's face or a reference voice
file. They are checked when picked (a bad file is a one-line message in the panel), reach the
pipeline as `VoiceOverrides.face` / `reference_voice` through `speech_settings`, and a take made
with them records where its timbre came from."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FACE_CLIPS, OFFLINE_CLIP, run_clips

from imagintalk_plugin.core.errors import AudioFileError, MediaOfflineError, UsageError
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.pipeline import speech as pipeline_speech
from imagintalk_plugin.pipeline.voice_overrides_io import (
    check_reference_audio,
    clip_face_embedding,
    reference_voice_embedding,
)
from imagintalk_plugin.ui import timbre_controls
from imagintalk_plugin.ui.controller import PanelController, speech_settings, timbre_record
from imagintalk_plugin.ui.state import FAILED, StyleSettings
from imagintalk_plugin.ui.timbre_controls import FROM_AUDIO, FROM_CLIP, FROM_FACE


@pytest.fixture(scope="module")
def voice(videos: list[Path]) -> Path:
    """The ground-truth speech of the first rendered face (16 kHz, a couple of seconds)."""
    path = videos[0].parent.parent / "audio" / f"{videos[0].stem}.wav"
    assert path.is_file()
    return path


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture
def recorded(monkeypatch) -> list[Any]:
    """The SpeechSettings each take is generated with (the worker calls the pipeline)."""
    calls: list[Any] = []
    real = pipeline_speech.speak_track

    def speak_track(models, stages, track, settings=None):
        calls.append(settings)
        return (yield from real(models, stages, track, settings))

    monkeypatch.setattr(pipeline_speech, "speak_track", speak_track)
    return calls


def test_reference_files_are_checked_and_embedded(voice: Path, tmp_path: Path) -> None:
    assert check_reference_audio(voice) > 1.0
    embedding = reference_voice_embedding(voice)
    assert (embedding.shape, embedding.dtype) == ((256,), np.float32)
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-3)  # Resemblyzer: unit length
    assert reference_voice_embedding(voice) is embedding  # kept per file, not embedded again
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    short = _write_wav(tmp_path / "short.wav", np.zeros(4000))
    silent = _write_wav(tmp_path / "silent.wav", np.zeros(32000))
    for path, reason in (
        (bad, "not a WAV file"),
        (tmp_path / "missing.wav", "file not found"),
        (short, r"too short \(0.25 s\)"),
        (tmp_path, "is a folder"),
    ):
        with pytest.raises(AudioFileError, match=reason) as caught:
            check_reference_audio(path)
        assert "\n" not in str(caught.value)
    with pytest.raises(AudioFileError, match="is silent"):
        reference_voice_embedding(silent)


def test_timbre_choices_are_checked_and_reach_the_settings(scene: Path, voice: Path) -> None:
    controller = PanelController()
    controller.open_timeline(scene)
    assert controller.face_sources() == list(FACE_CLIPS)
    with pytest.raises(MediaOfflineError):
        controller.set_style(["V1-001"], timbre_clip=OFFLINE_CLIP)
    with pytest.raises(UsageError, match="not on the timeline"):
        controller.set_style(["V1-001"], timbre_clip="V9-009")
    with pytest.raises(AudioFileError, match="file not found"):
        controller.set_style(["V1-001"], reference_audio=scene.parent / "none.wav")
    assert controller.clip("V1-001").style == controller.defaults  # refusals change nothing

    controller.set_style(["V1-001"], reference_audio=str(voice))
    style = controller.clip("V1-001").style
    assert (style.reference_audio, style.timbre_clip) == (voice, None)
    assert style.describe().endswith(f"timbre from {voice.name}")
    controller.set_style(["V1-001"], timbre_clip="V1-002")  # one source replaces the other
    style = controller.clip("V1-001").style
    assert (style.reference_audio, style.timbre_clip) == (None, "V1-002")
    assert style.describe().endswith("timbre from V1-002's face")
    assert timbre_record(style) == {"source": "clip face", "clip_id": "V1-002"}
    request = controller.request("V1-001")
    assert request.timbre_clip == controller.clip("V1-002").ref
    assert request.timbre_track is None  # V1-002 not read yet: the worker reads its face
    with pytest.raises(ValueError, match="not both"):
        StyleSettings(timbre_clip="V1-002", reference_audio=voice)

    face, ref = np.ones(128, np.float32), np.ones(256, np.float32)
    settings = speech_settings(StyleSettings(), face=face)
    assert (settings.overrides.face is face, settings.overrides.reference_voice) == (True, None)
    settings = speech_settings(StyleSettings(), reference_voice=ref)
    assert (settings.overrides.face, settings.overrides.reference_voice is ref) == (None, True)
    assert settings.describe()["reference_voice"] is True


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
