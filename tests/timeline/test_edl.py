"""EDLs as NLEs write them: rates inferred, drop-frame handled, exporter junk tolerated."""

from __future__ import annotations

from fractions import Fraction

import pytest

from imagintalk_plugin.timeline.edl import clean_edl, infer_rate, read_edl

DF_LIST = """TITLE: DF TEST
FCM: DROP FRAME
001  A001     V     C        01:00:59;28 01:01:00;04 01:00:59;28 01:01:00;04
* FROM CLIP NAME:  shot_a.mov
002  A002     V     C        02:00:00;00 02:00:02;00 01:01:00;04 01:01:02;04
* FROM CLIP NAME:  shot_b.mov
"""

FINAL_CUT_STYLE = """TITLE: FCP
* FORMAT: 1920X1080 P 25FPS
* EDL-X LIST OPTIONS:
 TRACKS: VIDEO - EDL TYPE: STRICT -
   3 DIGITS - REEL NAMES
FCM: NON-DROP FRAME
001  003      V     C        10:00:00:00 10:00:01:00 00:00:00:00 00:00:01:00
* COM.APPLE.PROAPPS.STUDIO.REEL: 0X060A
002  003      V     C        10:00:05:00 10:00:06:12 00:00:01:00 00:00:02:12
=>
=>  REEL NAME CONVERSIONS
>>> SOURCE INTERVIEW_CAM_A.MOV  -> 003
"""


def test_drop_frame_list_crossing_a_minute_is_frame_exact():
    reading = read_edl(DF_LIST.encode())
    assert reading.rate == Fraction(30000, 1001)
    assert reading.drop_frame
    first, second = reading.timeline.find_clips()
    # 01:00:59;28 -> 01:01:00;04 is 4 frames in drop-frame (labels ;00 and ;01 do not exist)
    assert first.source_range.duration.value == 4
    assert first.range_in_parent().duration.value == 4
    assert second.range_in_parent().start_time.value == 4
    assert second.source_range.duration.value == 60
    assert reading.start_frame == 107892 + 59 * 30 + 28  # 01:00:59;28


def test_final_cut_header_and_reel_table_are_handled():
    reading = read_edl(FINAL_CUT_STYLE.encode("utf-8-sig"))
    assert reading.rate == 25
    assert reading.reel_sources == {"003": "INTERVIEW_CAM_A.MOV"}
    clips = list(reading.timeline.find_clips())
    assert [c.range_in_parent().duration.value for c in clips] == [25, 37]
    assert any("not CMX 3600" in note for note in reading.notes)


@pytest.mark.parametrize(
    ("text", "rate", "drop"),
    [
        ("001 A V C 00:00:00:00 00:00:00:23 00:00:00:00 00:00:00:23\n", 24, False),
        ("001 A V C 00:00:00:00 00:00:00:24 00:00:00:00 00:00:00:24\n", 25, False),
        ("001 A V C 00:00:00:00 00:00:00:29 00:00:00:00 00:00:00:29\n", 30, False),
        (
            "001 A V C 00:00:00;00 00:00:00;29 00:00:00;00 00:00:00;29\n",
            Fraction(30000, 1001),
            True,
        ),
        (
            "FCM: DROP FRAME\n001 A V C 00:00:00:00 00:00:00:50 00:00:00:00 00:00:00:50\n",
            Fraction(60000, 1001),
            True,
        ),
        ("001 A V C 00:00:00:00 00:00:00:59 00:00:00:00 00:00:00:59\n", 60, False),
    ],
)
def test_rate_is_inferred_from_the_list(text, rate, drop):
    found, found_drop, _how = infer_rate(text)
    assert found == rate
    assert found_drop == drop


def test_given_rate_wins_and_bare_transition_durations_read_as_dissolves():
    text = (
        "001  A V C        01:00:00:00 01:00:01:00 01:00:00:00 01:00:01:00\n"
        "002  A V C        01:00:05:00 01:00:05:00 01:00:01:00 01:00:01:00\n"
        "002  B V      008 01:00:09:00 01:00:10:00 01:00:01:00 01:00:02:00\n"
    )
    cleaned, notes, _ = clean_edl(text)
    assert "D    008" in cleaned
    reading = read_edl(text.encode(), rate=Fraction(24000, 1001))
    assert reading.rate == Fraction(24000, 1001)
    assert len(list(reading.timeline.find_children())) >= 2
    assert any("dissolve" in note for note in notes)


def test_not_an_edl_is_refused():
    from otio_cmx3600_adapter.cmx_3600 import EDLParseError

    with pytest.raises(EDLParseError, match="no CMX 3600 events"):
        read_edl(b"  5.3   7.1    0\n  15    16.7   1\n")
