"""ADR in the panel without Qt: each clip's line and character, and each character's cast.

A clip's line starts as the timeline carries it (a `line:` marker, the clip's metadata, the
lines a dub or Place saved), is edited, saved in the session and restored, and reaches the
take's `SpeechSettings.line`; a character's cast is checked as `dub --cast` is, saved in the
session and in the placed timeline's `metadata["imagintalk"]` (where `dub` reads it back), and
every clip of the character generates with one timbre record. (The widgets:
tests/ui/test_adr_panel.py.)"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange
from panel_fixtures import OFFLINE_CLIP, fake_speech

from imagintalk_plugin.core.errors import ImagintalkError, UsageError
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.panel_model.controller import PanelController, clip_job, speech_settings
from imagintalk_plugin.panel_model.state import ClipResult, StyleSettings
from imagintalk_plugin.pipeline.speech import TakeInfo
from imagintalk_plugin.pipeline.voice_bank import add_voice, read_voice_bank
from imagintalk_plugin.timeline.reading import read_timeline

LINE = "Where were you last night?"
CAST_RECORD = {"source": "cast", "character": "ALICE", "cast": "bank:narrator", "sha256": "ab"}


def _open(scene: Path, bank: Path | None = None) -> PanelController:
    controller = PanelController(StyleSettings(steps=2))
    if bank is not None:
        controller.use_voice_bank(bank)
    controller.open_timeline(scene)
    return controller


def _bank(folder: Path, checkpoint: Path | None = None) -> Path:
    """A model folder (the tiny checkpoint linked in, when given) with one voice, `narrator`."""
    folder.mkdir()
    for part in checkpoint.iterdir() if checkpoint is not None else ():
        (folder / part.name).symlink_to(part)
    narrator = np.zeros(256, np.float32)
    narrator[:4] = 0.5
    add_voice(folder, "narrator", [folder / "unused.wav"], embed=lambda path: narrator)
    return folder


def _take(controller: PanelController, clip_id: str, notes: tuple[str, ...] = ()) -> None:
    """A take without a model, its record as a cast take's when the clip is cast."""
    request = controller.request(clip_id, regenerate=True)
    assert request is not None
    controller.started(clip_id)
    speech = fake_speech(clip_id, request.style.seed)
    settings = {"steps": 2, "line": request.style.line}
    if request.cast:
        settings["timbre"] = CAST_RECORD | {"character": request.style.character}
    take = TakeInfo("tiny:fake", request.style.seed, "torch", settings)
    speech = replace(speech, take=take, notes=notes)
    controller.finished(ClipResult(clip_id, request.take, request.style, None, speech))  # type: ignore[arg-type]


def _mark(scene: Path) -> None:
    """Give V1-001 a `line:` marker and a speaker label, and the timeline V1-002's saved line."""
    timeline = otio.adapters.read_from_file(str(scene))
    first = next(c for c in timeline.find_clips() if c.name == "line 1")
    first.markers.append(
        otio.schema.Marker(
            name="line: Where were you",
            marked_range=TimeRange(RationalTime(2, 24), RationalTime(1, 24)),
        )
    )
    first.markers.append(
        otio.schema.Marker(
            name="LINE:  last night?",
            marked_range=TimeRange(RationalTime(9, 24), RationalTime(1, 24)),
        )
    )
    first.metadata["imagintalk"] = {"speaker": "ALICE"}
    timeline.metadata["imagintalk"] = {
        "lines": {"V1-002": "Out, I said."},
        "characters": {"V1-002": "BOB"},
        "cast": {"BOB": "face:V1-001", "ALICE": "bank:gone"},
    }
    otio.adapters.write_to_file(timeline, str(scene))


def test_a_clips_line_is_kept_saved_restored_and_spoken(scene: Path) -> None:
    controller = _open(scene)
    assert controller.clip("V1-001").style.line is None  # words from the lips
    controller.set_line("V1-001", "  Where were you\n last night?  ")
    assert controller.clip("V1-001").style.line == LINE
    assert controller.clip("V1-002").style.line is None  # one clip's line only
    request = controller.request("V1-001")
    assert request is not None
    assert request.style.line == LINE
    assert speech_settings(request.style).line == LINE  # the take's SpeechSettings
    assert speech_settings(StyleSettings()).line is None
    controller.started("V1-001")
    speech = fake_speech("V1-001")
    note = "the line is long for the clip (3.1 s of speech in 1.2 s): closest fit"
    controller.finished(
        ClipResult("V1-001", 1, request.style, None, replace(speech, notes=(note,)))  # type: ignore[arg-type]
    )
    take = controller.clip("V1-001").takes[0]
    assert take.notes == (note,)
    assert f'"{LINE[:39]}' in take.label()

    again = _open(scene)  # a new panel on the same timeline
    state = again.clip("V1-001")
    assert state.style.line == LINE
    assert state.takes[0].style.line == LINE
    assert state.takes[0].notes == (note,)  # the take's notes are kept with it
    again.set_line("V1-001", "   ")  # blank: back to the words from the lips
    assert _open(scene).clip("V1-001").style.line is None


def test_lines_characters_and_cast_carried_by_the_timeline_fill_the_panel(scene: Path) -> None:
    _mark(scene)
    controller = _open(scene)
    first, second = controller.clip("V1-001"), controller.clip("V1-002")
    assert (first.style.line, first.style.character) == (LINE, "ALICE")  # markers, speaker
    assert (second.style.line, second.style.character) == ("Out, I said.", "BOB")  # saved
    assert controller.characters() == ["ALICE", "BOB"]
    assert controller.cast_of("BOB") == "face:V1-001"  # the timeline's saved cast
    assert controller.cast_of("ALICE") == "bank:gone"  # kept, with a note: no bank here
    assert "cast of ALICE: this model has no voice bank" in controller.session_notes
    assert controller.request("V1-002").cast == "face:V1-001"  # type: ignore[union-attr]

    controller.set_line("V1-001", "Where were you?")  # the editor's line wins on reopening
    assert _open(scene).clip("V1-001").style.line == "Where were you?"
    timeline = otio.adapters.read_from_file(str(scene))  # until the marker changes
    first_clip = next(c for c in timeline.find_clips() if c.name == "line 1")
    first_clip.markers[1].name = "line: last week?"
    otio.adapters.write_to_file(timeline, str(scene))
    assert _open(scene).clip("V1-001").style.line == "Where were you last week?"


def test_casts_are_checked_saved_and_reach_the_take_request(scene: Path, tmp_path: Path) -> None:
    bank = _bank(tmp_path / "model")
    controller = _open(scene, bank)
    with pytest.raises(UsageError, match="character"):
        controller.set_cast("", "bank:narrator")
    controller.set_style(["V1-001", "V1-002", OFFLINE_CLIP], character=" ALICE ")
    assert controller.characters() == ["ALICE"]
    for cast, reason in (
        ("face:V9-009", "no clip 'V9-009' on the timeline"),
        (f"face:{OFFLINE_CLIP}", "is offline"),
        ("bank:nobody", "no voice 'nobody' in the voice bank"),
        (f"voice:{tmp_path / 'none.wav'}", "file not found"),
        ("smile:V1-001", "is not face:CLIP_ID"),
    ):
        with pytest.raises(ImagintalkError, match=reason) as caught:
            controller.set_cast("ALICE", cast)
        assert "\n" not in str(caught.value)
    assert controller.casts == {}  # refusals change nothing

    events = []
    controller.subscribe(events.append)
    controller.set_cast("ALICE", "face:V1-002")
    assert [e.kind for e in events] == ["cast"]
    request = controller.request("V1-001")
    assert request is not None
    assert (request.cast, request.cast_clip) == ("face:V1-002", controller.clip("V1-002").ref)
    controller.set_cast("ALICE", "bank:narrator")
    assert controller.request("V1-002").cast == "bank:narrator"  # type: ignore[union-attr]

    again = _open(scene, bank)
    assert again.casts == {"ALICE": "bank:narrator"}
    assert again.clip("V1-002").style.character == "ALICE"
    again.set_cast("ALICE", "own")  # each clip its own face again, saved as `dub` writes it
    assert again.cast_of("ALICE") is None
    assert again.request("V1-001").cast is None  # type: ignore[union-attr]
    assert _open(scene, bank).casts == {"ALICE": "own"}
    assert _open(scene, bank).use_voice_bank(bank) == ["narrator"]


def test_place_keeps_lines_characters_and_cast_as_dub_does(scene: Path, tmp_path: Path) -> None:
    from imagintalk_plugin.pipeline.dub_adr import plan_adr
    from imagintalk_plugin.pipeline.dub_output import check_output

    bank = _bank(tmp_path / "model")
    controller = _open(scene, bank)
    controller.set_style(["V1-001", "V1-002"], character="ALICE")
    controller.set_cast("ALICE", "bank:narrator")
    controller.set_line("V1-001", LINE)
    _take(controller, "V1-001")
    _take(controller, "V1-002")
    output = tmp_path / "out" / "scene_placed.otio"
    output.parent.mkdir()
    controller.place(output)

    placed = read_timeline(output)
    ours = placed.timeline.metadata["imagintalk"]
    assert dict(ours["cast"]) == {"ALICE": "bank:narrator"}
    assert dict(ours["characters"]) == {"V1-001": "ALICE", "V1-002": "ALICE"}
    assert dict(ours["lines"]) == {"V1-001": LINE}
    audio = [t for t in placed.timeline.tracks if t.kind == otio.schema.TrackKind.Audio]
    assert [t.name for t in audio] == ["ImaginTalk Dialogue - ALICE"]
    records = [json.loads(p.audio_path.with_suffix(".take.json").read_text())
               for p in controller.last_placed]  # fmt: skip
    assert records[0]["settings"]["timbre"] == records[1]["settings"]["timbre"]
    assert records[0]["settings"]["timbre"]["character"] == "ALICE"
    assert records[0]["settings"]["line"] == LINE
    header = controller.last_placed[0].audio_path.read_bytes()[:1024]  # the BWF description
    assert b"character ALICE, cast bank:narrator" in header

    # dub reads the panel's cast, lines and characters back from the placed timeline
    plan = plan_adr(placed, check_output(output, tmp_path / "dubbed.otio", force=False),
                    bank=read_voice_bank(bank))  # fmt: skip
    assert {c: s.text for c, s in plan.casts.items()} == {"ALICE": "bank:narrator"}
    assert (plan.lines, plan.characters["V1-002"]) == ({"V1-001": LINE}, "ALICE")
    # and a panel opened on the placed timeline starts with them
    reopened = _open(output, bank)
    assert reopened.casts == {"ALICE": "bank:narrator"}
    assert reopened.clip("V1-001").style.line == LINE


def test_a_cast_characters_clips_share_one_timbre_record(
    scene: Path, checkpoint: Path, tmp_path: Path
) -> None:
    """On the tiny model: both clips of ALICE speak in the bank voice, with one timbre record;
    the first says its line."""
    from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages

    model = _bank(tmp_path / "model", checkpoint)
    controller = _open(scene, model)
    controller.set_style(["V1-001", "V1-002"], character="ALICE")
    controller.set_cast("ALICE", "bank:narrator")
    controller.set_line("V1-001", "Out, I said.")
    models = load_dub_models(model, "cpu")
    stages = make_stages(models)
    settings = {}
    for clip_id in ("V1-001", "V1-002"):
        request = controller.request(clip_id)
        assert request is not None
        result = drive(clip_job(request, models, stages))
        assert result.speech.waveform.num_samples > 0
        settings[clip_id] = result.speech.take.settings
        controller.finished(result)
    timbres = [s["timbre"] for s in settings.values()]
    assert timbres[0] == timbres[1]
    assert {k: timbres[0][k] for k in ("source", "character", "cast")} == {
        "source": "cast",
        "character": "ALICE",
        "cast": "bank:narrator",
    }
    assert (settings["V1-001"]["line"], settings["V1-002"]["line"]) == ("Out, I said.", None)
    assert settings["V1-001"]["reference_voice"] is True  # the bank voice replaced the face
    label = controller.clip("V1-002").takes[0].label()
    assert "ALICE's cast voice (bank:narrator)" in label
