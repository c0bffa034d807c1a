"""Frame rates as Resolve writes them ("23.976", "29.97 DF", "24") made exact.

Resolve states rates as short decimal strings; NTSC rates are snapped to their exact fractions
(23.976 -> 24000/1001) so frame arithmetic and OTIO rates agree with the panel's reader.
"""

from __future__ import annotations

from fractions import Fraction

# The NTSC family: a written rate this close to n*1000/1001 is that rate exactly.
_NTSC_BASES = (24, 30, 48, 60, 120)
_SNAP = 0.002


def parse_rate(text: object) -> Fraction | None:
    """A rate string or number as an exact fraction; None when it is not a positive rate."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        words = str(text or "").upper().replace("NDF", "").replace("DF", "").split()
        try:
            value = float(words[0]) if words else 0.0
        except ValueError:
            return None
    if not value > 0:
        return None
    for base in _NTSC_BASES:
        ntsc = Fraction(base * 1000, 1001)
        if abs(float(ntsc) - value) < _SNAP:
            return ntsc
    if abs(value - round(value)) < 1e-6:
        return Fraction(round(value))
    return Fraction(value).limit_denominator(1001)


def is_drop_frame(text: object) -> bool:
    """Whether Resolve's rate string asks for drop-frame timecode ("29.97 DF")."""
    words = str(text or "").upper().split()
    return "DF" in words


def same_rate(a: object, b: object) -> bool:
    """Whether two loosely written rates are the same rate (24 vs 23.976 are not)."""
    first, second = parse_rate(a), parse_rate(b)
    return first is not None and first == second
