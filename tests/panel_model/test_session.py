"""The panel's saved session: takes, circle and clip settings come back when the same timeline
is opened again in a new controller; a missing take file, an unreadable session file or a
changed clip is a one-line note, never a crash. (A new panel window on the same timeline:
tests/ui/test_session_panel.py.)"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from panel_fixtures import FACE_CLIPS, fake_speech

from imagintalk_plugin.panel_model import session_store
from imagintalk_plugin.panel_model.controller import PanelController
from imagintalk_plugin.panel_model.saved_takes import SavedSpeech, SavedTakeInfo
from imagintalk_plugin.panel_model.session_store import SESSION_FILE, session_folder
from imagintalk_plugin.panel_model.state import DONE, PENDING, ClipResult, StyleSettings
from imagintalk_plugin.timeline.bwf import read_bwf_time_reference


def _open(scene: Path) -> PanelController:
    controller = PanelController(StyleSettings(steps=2))
    controller.open_timeline(scene)
    return controller


def _take(controller: PanelController, clip_id: str, regenerate: bool = False) -> None:
    request = controller.request(clip_id, regenerate)
    assert request is not None
    controller.started(clip_id)
    speech = fake_speech(clip_id, request.style.seed, level=0.1 + 0.1 * request.take)
    controller.finished(ClipResult(clip_id, request.take, request.style, None, speech))  # type: ignore[arg-type]


def test_takes_circle_and_settings_come_back(scene: Path, tmp_path: Path) -> None:
    first = _open(scene)
    _take(first, "V1-001")
    _take(first, "V1-001", regenerate=True)
    first.circle("V1-001", 1)
    first.set_style(["V1-002"], pitch=2.5, emotion="happy", timbre_clip="V1-001", seed=7)
    made = [t.speech for t in first.clip("V1-001").takes]
    folder = scene.parent / "scene.imagintalk"
    assert first.session is not None
    assert first.session.folder == folder
    assert sorted(p.name for p in (folder / "V1-001").iterdir()) == [
        "take1.npz",
        "take1.wav",
        "take2.npz",
        "take2.wav",
    ]
    spotted = read_bwf_time_reference(folder / "V1-001" / "take1.wav")
    assert spotted == round(16000 * (3600 + 10 / 24))  # at its record timecode

    again = _open(scene)  # the first controller is simply dropped, as a crashed panel would be
    state = again.clip("V1-001")
    assert (state.status, [t.number for t in state.takes]) == (DONE, [1, 2])
    assert [(t.circled, t.style.seed) for t in state.takes] == [(True, 0), (False, 1)]
    assert state.chosen_take().number == 1
    saved = state.takes[1].speech
    assert isinstance(saved, SavedSpeech)
    np.testing.assert_allclose(saved.waveform.samples, made[1].waveform.samples, atol=1e-6)
    np.testing.assert_array_equal(saved.refined.tokens, made[1].refined.tokens)
    np.testing.assert_array_equal(saved.units.confidence, made[1].units.confidence)
    np.testing.assert_array_equal(saved.changed, made[1].changed)
    np.testing.assert_array_equal(saved.codes.tokens, made[1].codes.tokens)
    np.testing.assert_array_equal(saved.prosody.voiced, made[1].prosody.voiced)
    np.testing.assert_allclose(saved.error_prob, made[1].error_prob)
    assert saved.take.seed == 1
    assert saved.mouths is None  # made without lips
    other = again.clip("V1-002").style
    assert (other.pitch, other.emotion, other.timbre_clip, other.seed) == (
        2.5,
        "happy",
        "V1-001",
        7,
    )
    assert again.clip("V1-002").status == PENDING
    assert again.session_notes == ["restored the takes of 1 clip(s) from scene.imagintalk"]

    _take(again, "V1-001", regenerate=True)  # goes on numbering and seeding after the saved ones
    assert [(t.number, t.style.seed) for t in again.clip("V1-001").takes][-1] == (3, 2)
    assert [t.number for t in _open(scene).clip("V1-001").takes] == [1, 2, 3]

    summary = again.place(tmp_path / "out.otio")  # saved takes place like fresh ones
    assert "placed 1 take(s)" in summary
    sidecar = tmp_path / "out_dialogue" / "V1-001_line_1_take1.take.json"
    assert json.loads(sidecar.read_text())["seed"] == 0


def test_a_missing_take_or_a_changed_clip_is_a_note(scene: Path) -> None:
    first = _open(scene)
    _take(first, "V1-001")
    _take(first, "V1-001", regenerate=True)
    _take(first, "V1-002")
    folder = first.session.folder
    (folder / "V1-001" / "take1.wav").unlink()
    (folder / "V1-002" / "take1.npz").write_bytes(b"not a zip")

    again = _open(scene)
    assert [t.number for t in again.clip("V1-001").takes] == [2]
    assert again.clip("V1-001").error == "take 1 dropped: its file take1.wav is gone"
    assert again.clip("V1-002").takes == []
    assert again.clip("V1-002").status == PENDING
    assert "take1.npz are unreadable" in again.clip("V1-002").error
    assert len(again.session_notes) == 3
    assert all("\n" not in note for note in again.session_notes)
    request = again.request("V1-001", regenerate=True)
    assert request is not None
    assert request.take == 3

    record = json.loads((folder / SESSION_FILE).read_text())
    assert [t["number"] for t in record["clips"]["V1-001"]["takes"]] == [2]  # saved since
    record["clips"]["V1-001"]["fingerprint"]["frames"] = 99  # as if the clip were trimmed
    record["clips"]["V1-002"]["style"]["pitch"] = "high"
    record["clips"]["V9-001"] = record["clips"]["V1-002"]
    (folder / SESSION_FILE).write_text(json.dumps(record))
    notes = _open(scene).session_notes
    assert notes[0] == "V1-001: changed on the timeline since its 1 take(s) were made; not restored"
    assert notes[1].startswith("V1-002: saved settings unreadable (")
    assert notes[2] == "V9-001: no longer on the timeline; its saved takes are kept"


def test_an_unreadable_session_file_is_set_aside(scene: Path) -> None:
    first = _open(scene)
    _take(first, "V1-001")
    path = first.session.path
    path.write_text('{"format": "imagintalk-panel-session", "clips": ')  # cut short by a crash
    again = _open(scene)
    (note,) = again.session_notes
    assert note.startswith(f"session file {path} was unreadable (")
    assert note.endswith("set aside as session.json.bad")
    assert all(not again.clip(i).takes for i in again.clip_ids())
    assert (path.parent / "session.json.bad").is_file()
    _take(again, "V1-002")  # saving starts a new session file
    assert list(json.loads(path.read_text())["clips"]) == ["V1-002"]


def test_where_sessions_live(scene: Path, tmp_path: Path, monkeypatch) -> None:
    from imagintalk_plugin.core.paths import demo_timeline

    assert session_folder(scene) == scene.parent / "scene.imagintalk"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    demo = session_folder(demo_timeline())  # never inside the project's shipped files
    assert demo.parent == tmp_path / "data" / "imagintalk" / "sessions"
    assert demo.name.startswith("demo-")
    monkeypatch.setattr(session_store.os, "access", lambda *_args: False)  # a read-only share
    assert session_folder(scene).parent == tmp_path / "data" / "imagintalk" / "sessions"
    controller = PanelController(keep_session=False)
    controller.open_timeline(scene)
    assert controller.session is None


def test_a_saved_take_records_what_the_pipeline_does() -> None:
    from imagintalk_plugin.pipeline.speech import TakeInfo

    assert [f.name for f in fields(SavedTakeInfo)] == [f.name for f in fields(TakeInfo)]


@pytest.mark.parametrize("kind", ["wav", "npz"])
def test_a_take_broken_after_opening_is_a_message(scene: Path, kind: str) -> None:
    first = _open(scene)
    _take(first, "V1-001")
    speech = _open(scene).clip("V1-001").takes[0].speech
    (first.session.folder / "V1-001" / f"take1.{kind}").write_bytes(b"gone bad")
    from imagintalk_plugin.panel_model.saved_takes import SavedTakeError

    with pytest.raises(SavedTakeError, match=f"take1.{kind} unreadable"):
        _ = speech.waveform if kind == "wav" else speech.units


def test_saving_failures_are_announced_and_batch_edits_write_once(scene: Path, monkeypatch) -> None:
    (scene.parent / "scene.imagintalk").write_text("a file where the session folder would go")
    controller = _open(scene)
    events = []
    controller.subscribe(events.append)
    _take(controller, "V1-001")  # the take is kept in the panel, the save fails with a line
    assert controller.clip("V1-001").takes
    assert controller.session_error.startswith("cannot save the session in ")
    assert "session" in [e.kind for e in events]

    (scene.parent / "scene.imagintalk").unlink()
    writes = []
    real_write = session_store.SessionStore.write
    monkeypatch.setattr(
        session_store.SessionStore, "write", lambda store: writes.append(1) or real_write(store)
    )
    controller.set_style(["V1-001", "V1-002"], emotion="angry")
    assert len(writes) == 1  # one write for the whole edit
    assert controller.session_error == ""
    again = _open(scene)
    assert [again.clip(i).style.emotion for i in FACE_CLIPS] == ["angry", "angry"]
    assert [t.number for t in again.clip("V1-001").takes] == [1]  # the take failed before
