"""Timbre overrides without Qt: from the clip's face (default), another clip's face or a
reference voice file. They are checked when picked, reach the pipeline as
`VoiceOverrides.face` / `reference_voice` through `speech_settings`, and a take made with them
records where its timbre came from. (The style controls: tests/ui/test_timbre.py.)"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from panel_fixtures import FACE_CLIPS, OFFLINE_CLIP, face_voice

from imagintalk_plugin.core.errors import AudioFileError, MediaOfflineError, UsageError
from imagintalk_plugin.panel_model.controller import PanelController, speech_settings, timbre_record
from imagintalk_plugin.panel_model.state import StyleSettings
from imagintalk_plugin.pipeline.voice_overrides_io import (
    check_reference_audio,
    reference_voice_embedding,
)


@pytest.fixture(scope="module")
def voice(videos: list[Path]) -> Path:
    """The ground-truth speech of the first rendered face (16 kHz, a couple of seconds)."""
    return face_voice(videos)


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


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
