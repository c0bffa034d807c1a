"""`imagintalk dub --cues --cast` end to end with the tiny random checkpoint on rendered faces:
each clip's line goes into its settings, every clip of a character speaks in its one cast voice
and records it, the cast is saved in the output and reused, and the cue list is written beside
the output; a bad cue sheet or cast fails in one line before the model loads, writing
nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.cli import main
from imagintalk_plugin.pipeline import dub_models, dubbing
from imagintalk_plugin.pipeline.dub_adr import plan_adr
from imagintalk_plugin.pipeline.dub_output import check_output
from imagintalk_plugin.pipeline.voice_bank import add_voice, read_voice_bank
from imagintalk_plugin.timeline.cues import read_cue_sheet
from imagintalk_plugin.timeline.reading import read_timeline

RATE = 24
START = RationalTime.from_timecode("01:00:00:00", RATE)
SHEET = (
    "Cue,Character,Clip ID,TC In,TC Out,Line,Notes,Cast\r\n"
    "101,ALICE,V1-001,,,Where were you?,soft,\r\n"
    '102,ALICE,,01:00:02:12,01:00:03:18,"Out, I said.",,\r\n'  # V1-002 by its record TC
    "103,BOB,V1-003,,,Nowhere.,,bank:narrator\r\n"
)


def _timeline(videos: list[Path], folder: Path) -> Path:
    """V1: three 30-frame clips at record 10, 60, 110; the third shows the first's face."""
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for gap, path in zip((10, 20, 20), [*videos, videos[0]], strict=True):
        track.append(otio.schema.Gap(source_range=TimeRange(duration=RationalTime(gap, RATE))))
        track.append(
            otio.schema.Clip(
                name=path.stem,
                media_reference=otio.schema.ExternalReference(target_url=path.as_uri()),
                source_range=TimeRange(RationalTime(2, RATE), RationalTime(30, RATE)),
            )
        )
    timeline = otio.schema.Timeline(name="scene", global_start_time=START)
    timeline.tracks.append(track)
    path = folder / "scene.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def _model(checkpoint: Path, folder: Path) -> Path:
    """The tiny checkpoint (linked, not copied) with a voice bank of one voice."""
    folder.mkdir()
    for part in checkpoint.iterdir():
        (folder / part.name).symlink_to(part)
    narrator = np.zeros(256, np.float32)
    narrator[:4] = 0.5
    add_voice(folder, "narrator", [folder / "unused.wav"], embed=lambda path: narrator)
    return folder


def _dub(timeline: Path, output: Path, model: Path, *extra: str) -> int:
    args = ["dub", str(timeline), "-o", str(output), "--checkpoint", str(model)]
    return main([*args, "--steps", "2", "--quiet", *extra])


def test_dub_speaks_each_cues_line_in_its_characters_cast_voice(
    videos: list[Path],
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeline = _timeline(videos, tmp_path)
    model = _model(checkpoint, tmp_path / "model")
    (tmp_path / "CUES.csv").write_bytes(b"\xef\xbb\xbf" + SHEET.encode())
    output = tmp_path / "out" / "scene_dubbed.otio"
    output.parent.mkdir()
    spoken: dict[str, object] = {}
    speak_tracks = dubbing.speak_tracks

    def recording(models, stages, requests, *args, **kwargs):  # type: ignore[no-untyped-def]
        spoken.update({track.clip_id: settings for track, settings in requests})
        return speak_tracks(models, stages, requests, *args, **kwargs)

    monkeypatch.setattr(dubbing, "speak_tracks", recording)
    cues = ["--cues", str(tmp_path / "CUES.csv")]
    assert _dub(timeline, output, model, *cues, "--cast", "ALICE=face:V1-002") == 0
    assert "3 of 3 clip(s) dubbed" in capsys.readouterr().out
    lines = {clip_id: settings.line for clip_id, settings in spoken.items()}  # type: ignore[attr-defined]
    assert lines == {"V1-001": "Where were you?", "V1-002": "Out, I said.", "V1-003": "Nowhere."}

    dubbed = read_timeline(output).timeline
    cast = {"ALICE": "face:V1-002", "BOB": "bank:narrator"}
    assert dict(dubbed.metadata["imagintalk"]["cast"]) == cast
    tracks = {t.name: t for t in dubbed.tracks if t.kind == otio.schema.TrackKind.Audio}
    assert sorted(tracks) == ["ImaginTalk Dialogue - ALICE", "ImaginTalk Dialogue - BOB"]
    takes = {}
    for track in tracks.values():
        for clip in track.find_clips():
            wav = Path(clip.media_reference.target_url.removeprefix("file://"))
            takes[clip.metadata["imagintalk"]["source_clip_id"]] = wav
    records = {k: json.loads(w.with_suffix(".take.json").read_text()) for k, w in takes.items()}
    timbres = {k: r["settings"]["timbre"] for k, r in records.items()}
    assert timbres["V1-001"] == timbres["V1-002"]  # one voice for every clip of ALICE
    assert {k: timbres["V1-001"][k] for k in ("source", "character", "cast")} == {
        "source": "cast",
        "character": "ALICE",
        "cast": "face:V1-002",
    }
    assert records["V1-001"]["settings"]["other_face"] is True
    assert (timbres["V1-003"]["character"], timbres["V1-003"]["cast"]) == ("BOB", "bank:narrator")
    assert records["V1-003"]["settings"]["reference_voice"] is True
    if "line" in records["V1-001"]["settings"]:  # once the take records its line
        assert records["V1-002"]["settings"]["line"] == "Out, I said."
    assert b"character ALICE, cast face:V1-002" in takes["V1-001"].read_bytes()[:1024]

    cue_list = tmp_path / "out" / "scene_dubbed_cues.csv"
    assert cue_list.read_bytes().startswith(b"\xef\xbb\xbf")
    listed = read_cue_sheet(cue_list)
    assert [(c.cue, c.character, c.clip_id, c.line) for c in listed] == [
        ("101", "ALICE", "V1-001", "Where were you?"),
        ("102", "ALICE", "V1-002", "Out, I said."),
        ("103", "BOB", "V1-003", "Nowhere."),
    ]
    assert listed[0].notes.startswith("soft")  # and the take's notes, if any
    assert (listed[1].tc_in, listed[1].tc_out) == ("01:00:02:12", "01:00:03:18")
    files = cue_list.read_text(encoding="utf-8-sig").splitlines()[1].split(",")
    assert (cue_list.parent / files[8]).resolve() == takes["V1-001"].resolve()

    # The same command without --cast: the cast saved for this output, the same takes.
    assert _dub(timeline, output, model, *cues) == 0
    assert "3 reused" in capsys.readouterr().out
    redubbed = read_timeline(output)
    assert dict(redubbed.timeline.metadata["imagintalk"]["cast"]) == cast
    # The dubbed timeline dubbed again elsewhere: its saved cast comes with it.
    again = check_output(output, tmp_path / "again.otio", force=False)
    plan = plan_adr(redubbed, again, bank=read_voice_bank(model))
    assert {c: s.text for c, s in plan.casts.items()} == cast
    assert plan.characters == {"V1-001": "ALICE", "V1-002": "ALICE", "V1-003": "BOB"}
    assert plan.lines == lines


@pytest.mark.parametrize(
    ("sheet", "cast", "expected"),
    [
        (SHEET.replace("V1-003", "V7-001"), "ALICE=own", "row 4: no clip 'V7-001' on the"),
        (SHEET.replace("01:00:03:18", "02:00:03:18"), "ALICE=own", "row 3: record TC"),
        (SHEET + "104,BOB,V1-003,,,\r\n", "ALICE=own", "row 5: cue 104 has no line"),
        (SHEET + '105,BOB,"V1-003,x\r\n', "ALICE=own", "row 5: malformed CSV"),
        (SHEET, "CAROL=own", "--cast CAROL=own: no clip of character 'CAROL' (ALICE, BOB)"),
    ],
)
def test_a_bad_cue_sheet_or_cast_is_one_line_and_writes_nothing(
    videos: list[Path],
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    sheet: str,
    cast: str,
    expected: str,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the bad input was refused")

    monkeypatch.setattr(dub_models, "load_dub_models", refuse)
    timeline = _timeline(videos, tmp_path)
    model = _model(checkpoint, tmp_path / "model")
    (tmp_path / "CUES.csv").write_text(sheet, encoding="utf-8")
    before = sorted(tmp_path.rglob("*"))
    status = _dub(timeline, tmp_path / "dubbed.otio", model, "--cues", str(tmp_path / "CUES.csv"),
                  "--cast", cast)  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert expected in err
    assert len(err.splitlines()) == 1
    assert sorted(tmp_path.rglob("*")) == before


def test_a_cue_list_the_dub_did_not_write_is_never_replaced(
    videos: list[Path],
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the bad input was refused")

    monkeypatch.setattr(dub_models, "load_dub_models", refuse)
    timeline = _timeline(videos, tmp_path)
    mine = tmp_path / "dubbed_cues.csv"
    mine.write_text("my own notes")
    assert _dub(timeline, tmp_path / "dubbed.otio", checkpoint) == 2
    assert f"output '{mine}' already exists" in capsys.readouterr().err
    assert mine.read_text() == "my own notes"
    assert not (tmp_path / "dubbed.otio").exists()
