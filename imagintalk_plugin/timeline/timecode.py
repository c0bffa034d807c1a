"""Exact frame and timecode arithmetic at film and video rates.

Interchange files write NTSC rates loosely (23.976, 23.976023976023978, 29.97, 30000/1001 as a
float); OTIO keeps whatever double it was given. Everything here snaps a rate to its exact
fraction first, so frame numbers are exact integers at 23.976, 24, 25, 29.97 DF/NDF, 30, 50,
59.94 and 60 fps, also hours into a timeline that starts at 01:00:00:00.
"""

from __future__ import annotations

from fractions import Fraction

from opentimelineio import opentime
from opentimelineio.opentime import RationalTime

# The rates editors use, as exact fractions; a float within _SNAP of one of them is that rate.
STANDARD_RATES: tuple[Fraction, ...] = (
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(48),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
    Fraction(15),
    Fraction(12),
    Fraction(120),
)
_SNAP = 2e-3  # 23.976 vs 24000/1001 differ by 2.4e-5; 23.976 vs 24 by 0.024
DROP_FRAME_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))


def exact_rate(fps: float | Fraction, tolerance: float = _SNAP) -> Fraction:
    """The exact fraction of a frame rate: 23.976 -> 24000/1001, 25.0 -> 25.

    `tolerance` is how far a written rate may be from a standard one ("23.98" in an EDL
    comment needs more than the default).
    """
    if isinstance(fps, Fraction):
        return fps
    for rate in STANDARD_RATES:
        if abs(float(rate) - fps) < tolerance:
            return rate
    return Fraction(fps).limit_denominator(1001)


def rate_float(fps: float | Fraction) -> float:
    """The double OTIO should carry for a rate (24000/1001 rather than 23.976)."""
    return float(exact_rate(fps))


def same_rate(a: float | Fraction, b: float | Fraction) -> bool:
    """Whether two loosely written rates are the same rate."""
    return exact_rate(a) == exact_rate(b)


def to_frames(time: RationalTime, fps: float | Fraction) -> int:
    """`time` as a whole number of frames at `fps`, exact across loose NTSC spellings."""
    target = exact_rate(fps)
    source = exact_rate(time.rate)
    frames = Fraction(time.value) * target / source
    return round(frames)


def frames_time(frames: int, fps: float | Fraction) -> RationalTime:
    """A time of `frames` frames at the exact double of `fps`."""
    return RationalTime(frames, rate_float(fps))


def seconds(time: RationalTime) -> Fraction:
    """A time in exact seconds (NTSC rates snapped to their fraction)."""
    return Fraction(time.value).limit_denominator(1000) / exact_rate(time.rate)


def is_drop_frame_rate(fps: float | Fraction) -> bool:
    """Whether drop-frame timecode exists at this rate (29.97 and 59.94)."""
    return exact_rate(fps) in DROP_FRAME_RATES


def timecode(frames: int, fps: float | Fraction, drop_frame: bool = False) -> str:
    """Frame count -> "HH:MM:SS:FF" ("HH:MM:SS;FF" for drop-frame), negative-safe."""
    rate = rate_float(fps)
    df = drop_frame and is_drop_frame_rate(fps)
    return str(opentime.to_timecode(RationalTime(frames, rate), rate, df))


def parse_timecode(text: str, fps: float | Fraction) -> int:
    """ "HH:MM:SS:FF" or "HH:MM:SS;FF" (drop-frame) -> frame count at `fps`."""
    rate = rate_float(fps)
    return round(opentime.from_timecode(text.strip(), rate).value)
