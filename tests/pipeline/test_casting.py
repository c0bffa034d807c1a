"""Casting a voice per character, without models: `--cast` parsing, where each character's cast
comes from (command line > cue sheet > this output's last run > the timeline's saved cast),
the checks before any work, and one resolved voice giving every clip of a character the
same settings and timbre record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.core.clips import PlacedAudio
from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.pipeline.casting import CastSpec, parse_cast_option
from imagintalk_plugin.pipeline.dub_adr import cue_list_rows, plan_adr
from imagintalk_plugin.pipeline.dub_output import check_output
from imagintalk_plugin.pipeline.dub_report import ClipOutcome
from imagintalk_plugin.pipeline.speech import SpeechSettings
from imagintalk_plugin.pipeline.voice_bank import BankVoice, VoiceBank
from imagintalk_plugin.timeline.reading import read_timeline

RATE = 24


def _timeline(folder: Path, saved: dict[str, str] | None = None) -> Path:
    """V1-001 and V1-002 labelled ALICE, V1-003 unlabelled; a saved cast if given."""
    media = folder / "take.mov"
    media.write_bytes(b"a picture")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for index, speaker in enumerate(["ALICE", "ALICE", None]):
        clip = otio.schema.Clip(
            name=f"shot {index + 1}",
            media_reference=otio.schema.ExternalReference(target_url=media.as_uri()),
            source_range=TimeRange(RationalTime(0, RATE), RationalTime(24, RATE)),
        )
        if speaker:
            clip.metadata["imagintalk"] = {"speaker": speaker}
        track.append(clip)
    timeline = otio.schema.Timeline(name="scene")
    if saved:
        timeline.metadata["imagintalk"] = {"cast": saved}
    timeline.tracks.append(track)
    path = folder / "scene.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def _bank(folder: Path) -> VoiceBank:
    voices = {}
    for index, name in enumerate(["narrator", "other"]):
        embedding = np.zeros(256, np.float32)
        embedding[index] = 1.0
        voices[name] = BankVoice(name, embedding, "test")
    return VoiceBank(folder / "voice_bank.json", voices)


def _plan(tmp_path: Path, casts: tuple[str, ...] = (), sheet: str | None = None, **saved: str):
    timeline = _timeline(tmp_path, saved or None)
    output = check_output(timeline, tmp_path / "scene_dubbed.otio", force=False)
    cues = None
    if sheet is not None:
        cues = tmp_path / "CUES.csv"
        cues.write_text(sheet)
    specs = tuple(parse_cast_option(text) for text in casts)
    return plan_adr(read_timeline(timeline), output, cues=cues, casts=specs, bank=_bank(tmp_path))


def test_cast_options_parse_or_fail_in_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_cast_option("ALICE=face:V1-002") == CastSpec(
        "ALICE", "face", "V1-002", "--cast ALICE=face:V1-002"
    )
    assert parse_cast_option("Dr  Who=voice:refs/who.wav").value == str(
        tmp_path / "refs" / "who.wav"
    )
    assert parse_cast_option("Dr  Who=voice:x.wav").character == "Dr Who"
    assert parse_cast_option("BOB=Bank:narrator").text == "bank:narrator"
    assert parse_cast_option("BOB=own").text == "own"
    for bad, why in [
        ("ALICE", "write CHARACTER=face:CLIP_ID"),
        ("ALICE=mouth:x", "is not face:CLIP_ID, voice:WAV, bank:NAME or own"),
        ("ALICE=bank:", "needs a value after 'bank:'"),
        ("ALICE=own:x", "needs nothing after 'own'"),
        ("=bank:x", "a cast needs a character"),
    ]:
        with pytest.raises(UsageError, match=why) as caught:
            parse_cast_option(bad)
        assert str(caught.value).startswith(f"--cast {bad}:")


def test_each_character_takes_its_cast_from_the_first_source_that_has_one(
    tmp_path: Path,
) -> None:
    sheet = "Cue,Character,Clip ID,Line,Cast\n7,BOB,V1-003,Hello there.,bank:narrator\n"
    saved = {"ALICE": "bank:other", "GHOST": "own"}
    plan = _plan(tmp_path, ("ALICE=face:V1-002",), sheet, **saved)
    assert {c: s.text for c, s in plan.casts.items()} == {
        "ALICE": "face:V1-002",  # the command line over the timeline's saved cast
        "BOB": "bank:narrator",  # the cue sheet
    }  # GHOST: saved for a character no clip has any more, dropped
    assert plan.characters == {"V1-001": "ALICE", "V1-002": "ALICE", "V1-003": "BOB"}
    assert plan.lines == {"V1-003": "Hello there."}
    assert plan.clip(plan.clips["V1-003"]).speaker == "BOB"  # its takes go on BOB's track

    (tmp_path / "again").mkdir()
    plan = _plan(tmp_path / "again", sheet=sheet, **saved)
    assert plan.casts["ALICE"].text == "bank:other"  # the timeline's saved cast
    record = tmp_path / "again" / "scene_dubbed_dialogue" / ".imagintalk-dub.json"
    record.parent.mkdir()
    record.write_text(json.dumps({"cast": {"ALICE": "own"}}))
    plan = _plan(tmp_path / "again", sheet=sheet, **saved)
    assert plan.casts["ALICE"].text == "own"  # this output's last run over the timeline's


@pytest.mark.parametrize(
    ("casts", "sheet", "expected"),
    [
        (("CAROL=own",), None, "--cast CAROL=own: no clip of character 'CAROL' (ALICE)"),
        (("ALICE=face:V9-009",), None, "--cast ALICE=face:V9-009: no clip 'V9-009' on the"),
        (("ALICE=bank:nobody",), None, "no voice 'nobody' in the voice bank"),
        (("ALICE=voice:missing.wav",), None, "--cast ALICE=voice:missing.wav: cannot use audio"),
        (("ALICE=own", "ALICE=bank:other"), None, "ALICE is cast as bank:other here but as own"),
        (
            (),
            "cue,character,clip id,line,cast\n1,BOB,V1-003,Hi,own\n2,BOB,V1-003,Ho,bank:other\n",
            "cue sheet {sheet} row 3: BOB is cast as bank:other here but as own in cue sheet",
        ),
        ((), "cue,clip id,line,cast\n1,V1-003,Hi,own\n", "row 2: a cast needs a character"),
    ],
)
def test_a_bad_cast_fails_before_any_work_in_one_line(
    tmp_path: Path, casts: tuple[str, ...], sheet: str | None, expected: str
) -> None:
    with pytest.raises(UsageError) as caught:
        _plan(tmp_path, casts, sheet)
    message = str(caught.value)
    assert expected.format(sheet=tmp_path / "CUES.csv") in message
    assert "\n" not in message
    assert not (tmp_path / "scene_dubbed_dialogue").exists()


def test_every_clip_of_a_character_gets_one_voice_and_its_record(tmp_path: Path) -> None:
    sheet = "cue,character,clip id,line\n1,ALICE,V1-001,One.\n2,BOB,V1-003,Two.\n"
    plan = _plan(tmp_path, ("ALICE=bank:narrator", "BOB=own"), sheet)
    clips = [plan.clip(c) for c in plan.clips.values()]
    voices = drive(plan.resolve(clips, None))
    assert set(voices.voices) == {"ALICE"}  # `own` needs no voice
    base = SpeechSettings()
    alice = [voices.settings(c, base) for c in clips[:2]]
    assert alice[0].timbre == alice[1].timbre
    assert dict(alice[0].timbre) == {
        "source": "cast",
        "character": "ALICE",
        "cast": "bank:narrator",
        "sha256": dict(alice[0].timbre)["sha256"],
    }
    for settings in alice:
        np.testing.assert_array_equal(
            settings.overrides.reference_voice, _bank(tmp_path).voices["narrator"].embedding
        )
        assert settings.overrides.face is None
    assert (alice[0].line, alice[1].line) == ("One.", None)  # no line: words from the lips
    bob = voices.settings(clips[2], base)
    assert (bob.timbre, bob.line) == (base.timbre, "Two.")  # own face: today's timbre


def test_the_cue_list_has_a_row_per_take_and_says_why_a_clip_has_none(tmp_path: Path) -> None:
    sheet = "cue,character,clip id,line,notes\n9,ALICE,V1-001,One.,soft\n"
    plan = _plan(tmp_path, (), sheet)
    clips = [plan.clip(c) for c in plan.clips.values()]
    wav = tmp_path / "out" / "scene_dubbed_dialogue" / "V1-001_take2.wav"
    placed = [
        PlacedAudio(
            clips[0], wav.with_name(f"V1-001_take{t}.wav"), clips[0].record_range, 48000, take=t
        )
        for t in (2, 1)
    ]
    outcomes = [
        ClipOutcome("V1-001", "shot 1", "done", notes=["the line is long"]),
        ClipOutcome("V1-002", "shot 2", "failed", error="no face in 'shot 2'"),
    ]
    rows = cue_list_rows(plan, clips[:2], placed, outcomes, tmp_path / "out")
    assert [(r.cue, r.character, r.clip_id, r.take, r.file, r.notes) for r in rows] == [
        (
            "9",
            "ALICE",
            "V1-001",
            1,
            "scene_dubbed_dialogue/V1-001_take1.wav",
            "soft; the line is long",
        ),
        (
            "9",
            "ALICE",
            "V1-001",
            2,
            "scene_dubbed_dialogue/V1-001_take2.wav",
            "soft; the line is long",
        ),
        ("V1-002", "ALICE", "V1-002", None, "", "not dubbed: no face in 'shot 2'"),
    ]
    assert (rows[0].tc_in, rows[0].tc_out, rows[0].line, rows[2].line) == (
        "00:00:00:00",
        "00:00:01:00",
        "One.",
        "",
    )
