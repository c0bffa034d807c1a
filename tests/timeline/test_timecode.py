"""Exact frames and timecodes at every rate editors use, hours into the timeline."""

from __future__ import annotations

from fractions import Fraction

import pytest
from opentimelineio.opentime import RationalTime

from imagintalk_plugin.timeline.timecode import (
    exact_rate,
    parse_timecode,
    same_rate,
    timecode,
    to_frames,
)


@pytest.mark.parametrize(
    ("loose", "exact"),
    [
        (23.976, Fraction(24000, 1001)),
        (23.976023976023978, Fraction(24000, 1001)),
        (29.97, Fraction(30000, 1001)),
        (59.94, Fraction(60000, 1001)),
        (25.0, Fraction(25)),
        (60.0, Fraction(60)),
    ],
)
def test_loose_rates_snap_to_exact_fractions(loose, exact):
    assert exact_rate(loose) == exact
    assert same_rate(loose, float(exact))


# (rate, drop_frame, frames after 01:00:00:00, expected timecode) -- worked out by hand:
# DF skips frame labels 00 and 01 (00-03 at 59.94) at each minute not divisible by ten.
CASES = [
    (24000 / 1001, False, 1440, "01:01:00:00"),
    (24.0, False, 24 * 3600, "02:00:00:00"),
    (25.0, False, 25 * 61 + 3, "01:01:01:03"),
    (30000 / 1001, True, 1800, "01:01:00;02"),
    (30000 / 1001, True, 17982, "01:10:00;00"),
    (30000 / 1001, False, 1800, "01:01:00:00"),
    (30.0, False, 1799, "01:00:59:29"),
    (50.0, False, 50, "01:00:01:00"),
    (60000 / 1001, True, 3600, "01:01:00;04"),
    (60.0, False, 3600, "01:01:00:00"),
]


@pytest.mark.parametrize(("rate", "drop", "offset", "expected"), CASES)
def test_timecodes_are_exact_from_one_hour(rate, drop, offset, expected):
    hour = "01:00:00;00" if drop else "01:00:00:00"
    start = parse_timecode(hour, rate)
    assert timecode(start + offset, rate, drop) == expected
    assert parse_timecode(expected, rate) == start + offset


def test_one_hour_in_frames_at_drop_and_non_drop():
    assert parse_timecode("01:00:00;00", 29.97) == 107892
    assert parse_timecode("01:00:00:00", 29.97) == 108000
    assert parse_timecode("01:00:00;00", 59.94) == 215784


def test_to_frames_is_exact_across_loose_spellings():
    # 10 hours of 23.976 frames written with a rate of 23.976 (as FCP XML does)
    frames = 24 * 36000
    assert to_frames(RationalTime(frames, 23.976), 24000 / 1001) == frames
    assert to_frames(RationalTime(2, 48000 / 1001 / 2 * 2), 24000 / 1001) == 1
    assert to_frames(RationalTime(48000 * 3600, 48000), 25) == 25 * 3600
