"""ADR cue sheets: a spreadsheet's CSV in (BOM, `;`, Excel quoting, header spellings), cues
matched to clips by id or record timecode, bad rows as one line naming the row, the dub's cue
list out and back in; and the line a timeline carries on a clip (metadata, markers)."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.timeline.clip_lines import clip_line
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.cues import (
    CUE_LIST_COLUMNS,
    CueListRow,
    CueSheetError,
    match_cues,
    read_cue_sheet,
    record_timecodes,
    write_cue_list,
)
from imagintalk_plugin.timeline.reading import LoadedTimeline, read_timeline

RATE = 24


def _loaded(tmp_path: Path) -> LoadedTimeline:
    """V1 at 01:00:00:00: gap 10, A (V1-001) 30 frames, gap 20, B (V1-002) 30 frames."""
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, gap in (("A", 10), ("B", 20)):
        track.append(otio.schema.Gap(source_range=TimeRange(duration=RationalTime(gap, RATE))))
        clip = otio.schema.Clip(
            name=name,
            media_reference=otio.schema.ExternalReference(target_url=f"file:///m/{name}.mov"),
            source_range=TimeRange(RationalTime(0, RATE), RationalTime(30, RATE)),
        )
        if name == "B":
            clip.markers.append(
                otio.schema.Marker(
                    name="LINE: Where were",
                    marked_range=TimeRange(RationalTime(0, RATE), RationalTime(1, RATE)),
                )
            )
            clip.markers.append(
                otio.schema.Marker(
                    name="scratch",
                    marked_range=TimeRange(RationalTime(5, RATE), RationalTime(1, RATE)),
                    comment="line:  you   last night?",
                )
            )
        track.append(clip)
    timeline = otio.schema.Timeline(
        name="scene", global_start_time=RationalTime.from_timecode("01:00:00:00", RATE)
    )
    timeline.tracks.append(track)
    path = tmp_path / "scene.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return read_timeline(path)


def _sheet(tmp_path: Path, text: str, *, bom: bool = False, name: str = "CUES.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def test_a_spreadsheet_csv_reads_with_its_bom_semicolons_and_quoting(tmp_path: Path) -> None:
    text = (
        "Cue #;CHARACTER;clip_id;Record-TC-In;Record TC Out;Dialogue;Notes;Scene\r\n"
        '101;ALICE;V1-001;;;"Well, she said ""no""\nand left.";breathy;12\r\n'
        ";;;;;;;\r\n"  # a blank row, as Excel writes one
        "102;Bob;;01:00:01:20;01:00:02:00;Café au lait.;;12\r\n"
    )
    cues = read_cue_sheet(_sheet(tmp_path, text, bom=True))
    assert [(c.row, c.cue, c.character, c.clip_id) for c in cues] == [
        (2, "101", "ALICE", "V1-001"),
        (4, "102", "Bob", None),
    ]
    assert cues[0].line == 'Well, she said "no" and left.'
    assert cues[0].notes == "breathy"
    assert (cues[1].tc_in, cues[1].tc_out, cues[1].line) == (
        "01:00:01:20",
        "01:00:02:00",
        "Café au lait.",
    )


def test_cues_go_to_clips_by_id_or_by_the_timecode_they_overlap_most(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path)
    clips = list_clips(loaded)
    text = (
        "cue,character,clip id,tc in,tc out,line\n"
        "1,ALICE,V1-001,,,First.\n"
        "2,,,01:00:01:14,01:00:02:14,Second\n"  # frames 38-62: 2 on A, 2 on B, A first
        "3,BOB,,01:00:02:12,01:00:03:00,Third.\n"  # frames 60-72: B
        "4,BOB,,01:00:02:20,01:00:03:10,Fourth.\n"  # frames 68-82: B, after cue 3
    )
    path = _sheet(tmp_path, text)
    matched = match_cues(path, read_cue_sheet(path), loaded, clips)
    assert matched["V1-001"].line == "First. Second"
    assert matched["V1-001"].character == "ALICE"
    assert (matched["V1-002"].line, matched["V1-002"].cue) == ("Third. Fourth.", "3+4")
    assert record_timecodes(clips[1]) == ("01:00:02:12", "01:00:03:18")


BAD_ROWS = [
    ("cue,clip id,line\n1,V1-001,Hi\n2,V1-002,Hi,extra\n", "row 3: 4 fields, the header has 3"),
    ('cue,clip id,line\n1,V1-001,"Hi\n', "row 2: malformed CSV"),
    ("cue,clip id,line\n1,V1-001,Hi\n7,V9-001,Hi\n", "row 3: no clip 'V9-001' on the timeline"),
    (
        "cue,tc in,tc out,line\n5,02:00:00:00,02:00:01:00,Hi\n",
        "row 2: record TC 02:00:00:00-02:00:01:00 is outside the timeline",
    ),
    ("cue,tc in,tc out,line\n5,01:00:00:02,01:00:00:05,Hi\n", "row 2: no dubbable clip under"),
    ("cue,clip id,line\n1,V1-001,Hi\n\n9,V1-002,  \n", "row 4: cue 9 has no line"),
    ("cue,tc in,tc out,line\n5,1:00,01:00:01:00,Hi\n", "row 2: TC In '1:00' is not a timecode"),
    ("cue,tc in,tc out,line\n5,01:00:01:00,,Hi\n", "row 2: cue 5 has no clip id and both"),
    ("cue,tc in,tc out,line\n5,01:00:01:00,01:00:00:20,Hi\n", "row 2: TC Out 01:00:00:20 is not"),
    ("cue,tc in,tc out,line\n5,01:00:00:30,01:00:01:00,Hi\n", "row 2: bad timecode"),
    ("cue,clip id,line\n1,V1-001,Hi\n1,V1-002,Ho\n", "row 3: cue 1 again (first on row 2)"),
    (
        "cue,character,clip id,line\n1,ANN,V1-001,Hi\n2,BOB,V1-001,Ho\n",
        "row 3: cue 2 (BOB) falls on clip V1-001 with cue 1 (ANN)",
    ),
    ("cue,clip id,words\n1,V1-001,Hi\n", "row 1: no 'Line' column"),
    ("cue,character,line\n1,ANN,Hi\n", "row 1: the header needs a 'Clip ID'"),
    ("cue,clip id,line\n", "CUES.csv: has no cues"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_ROWS)
def test_a_bad_row_is_one_line_naming_the_row(tmp_path: Path, text: str, expected: str) -> None:
    loaded = _loaded(tmp_path)
    path = _sheet(tmp_path, text)
    with pytest.raises(CueSheetError) as caught:
        match_cues(path, read_cue_sheet(path), loaded, list_clips(loaded))
    message = str(caught.value)
    assert message.startswith(f"cue sheet {path}")
    assert expected in message
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_a_sheet_that_is_not_utf8_says_how_to_save_it(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("cue,clip id,line\n1,V1-001,Caf\xe9\n".encode("latin-1"))
    with pytest.raises(CueSheetError, match="save it as 'CSV UTF-8'"):
        read_cue_sheet(path)


def test_the_cue_list_reads_back_as_a_cue_sheet(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path)
    clips = list_clips(loaded)
    rows = [
        CueListRow("101", "ALICE", "V1-001", *record_timecodes(clips[0]), 'Say "hi", then go.',
                   take, False, f"scene_dialogue/V1-001_A_take{take}.wav", "breathy")
        for take in (1, 2)
    ] + [
        CueListRow("V1-002", "BOB", "V1-002", *record_timecodes(clips[1]), "Où ça?",
                   1, True, "scene_dialogue/V1-002_B_take1.wav")
    ]  # fmt: skip
    path = write_cue_list(tmp_path / "scene_cues.csv", rows)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the accents right
    assert raw.split(b"\r\n")[0] == b"\xef\xbb\xbf" + ",".join(CUE_LIST_COLUMNS).encode()
    assert b'"Say ""hi"", then go."' in raw
    assert not list(tmp_path.glob(".*tmp"))  # written atomically, nothing left beside
    cues = read_cue_sheet(path)  # a cue's take rows read back as that one cue
    assert [(c.cue, c.character, c.clip_id, c.line) for c in cues] == [
        ("101", "ALICE", "V1-001", 'Say "hi", then go.'),
        ("V1-002", "BOB", "V1-002", "Où ça?"),
    ]
    matched = match_cues(path, cues, loaded, clips)
    assert {k: v.line for k, v in matched.items()} == {
        "V1-001": 'Say "hi", then go.',
        "V1-002": "Où ça?",
    }


def test_a_clip_carries_its_line_in_metadata_or_markers(tmp_path: Path) -> None:
    clips = list_clips(_loaded(tmp_path))
    assert "line" not in clips[0].metadata
    assert clips[1].metadata["line"] == "Where were you last night?"
    clip = otio.schema.Clip(name="C")
    clip.metadata["imagintalk"] = {"line": "  From the   script. "}
    clip.markers.append(otio.schema.Marker(name="line: from a marker"))
    assert clip_line(clip) == "From the script."
    resolve = otio.schema.Clip(name="D")
    marker = otio.schema.Marker(name="Marker 1")
    marker.metadata["Resolve_OTIO"] = {"Note": "Line: Resolve's note."}
    resolve.markers.append(marker)
    assert clip_line(resolve) == "Resolve's note."
    assert clip_line(otio.schema.Clip(name="E")) is None
