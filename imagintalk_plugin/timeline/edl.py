"""CMX 3600 EDLs as real NLEs write them, read through the stock OTIO adapter.

The adapter assumes 24 fps unless told, wants 30000/1001 rather than 29.97, fails on
drop-frame lists unless `ignore_timecode_mismatch` is set, and stops at lines that many
exporters add (byte-order marks, wrapped header comments, Final Cut's `>>> SOURCE` reel table,
bare transition durations). This module cleans those up, infers the rate from the list itself,
and reports each fix-up as a note, so the user never has to know about them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import opentimelineio as otio

from imagintalk_plugin.timeline.timecode import exact_rate, parse_timecode

_TC = r"\d\d[:;.]\d\d[:;.]\d\d[:;.]\d\d"
_EVENT = re.compile(rf"^\d+\s+\S+\s+\S+\s+(\S+)(?:\s+\S+)?\s+({_TC})\s+({_TC})\s+({_TC})\s+({_TC})")
_BARE_DURATION = re.compile(rf"^(\d+\s+\S+\s+\S+\s+)(\d{{3}})(\s+{_TC})")
_TIMECODE = re.compile(_TC)
_FORMAT_FPS = re.compile(r"(\d{2}(?:\.\d+)?)\s*FPS", re.IGNORECASE)
_REEL_MAP = re.compile(r"^>>>\s*SOURCE\s+(.+?)\s+->\s+(\S+)\s*$")
_HEADER_STATEMENT = re.compile(r"^(FCM|TITLE)", re.IGNORECASE)


@dataclass(frozen=True)
class EdlReading:
    """What `read_edl` found: the timeline, the rate used, drop-frame, and fix-up notes."""

    timeline: otio.schema.Timeline
    rate: Fraction
    drop_frame: bool
    notes: tuple[str, ...]
    reel_sources: dict[str, str]  # reel -> source file name, from `>>> SOURCE` lines
    start_frame: int  # record-in of the first event: the adapter puts that event at frame 0


def decode_edl(data: bytes) -> str:
    """EDL bytes -> text: UTF-8 (with or without BOM), else Latin-1 (old Avid lists)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _spell_timecodes(event: str, source_drop: bool, record_drop: bool) -> str:
    """Write an event's timecodes as OTIO parses them: "HH:MM:SS;FF" is drop-frame.

    The first two timecodes are the source's (mode: the FCM before the event), the last two
    the record's (mode: the list's FCM before its first event).
    """
    count = len(_TIMECODE.findall(event))
    index = 0

    def spell(found: re.Match[str]) -> str:
        nonlocal index
        index += 1
        drop = record_drop if index > count - 2 else source_drop
        body = found.group(0)[:8].replace(";", ":").replace(".", ":")
        return f"{body}{';' if drop else ':'}{found.group(0)[9:]}"

    return _TIMECODE.sub(spell, event)


def clean_edl(text: str, ntsc: bool = False) -> tuple[str, list[str], dict[str, str]]:
    """Drop the lines the adapter chokes on; returns (text, notes, reel -> source file).

    With `ntsc`, the list's FCM statements (which may switch between events) decide whether
    each event's timecodes are drop-frame.
    """
    notes: list[str] = []
    reels: dict[str, str] = {}
    kept: list[str] = []
    dropped = 0
    seen_event = False
    drop_frame = record_drop = False
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped:
            kept.append("")
            continue
        mapped = _REEL_MAP.match(stripped)
        if mapped:
            reels[mapped.group(2)] = mapped.group(1)
            continue
        if stripped.startswith(("=>", ">>>")) or (not seen_event and raw[:1].isspace()):
            dropped += 1  # Final Cut's trailer tables, or a wrapped header comment line
            continue
        if stripped.upper().startswith("M2"):  # the adapter's M2 pattern wants ':' only
            stripped = _TIMECODE.sub(lambda m: m.group(0).replace(";", ":"), stripped)
        if stripped.upper().startswith("FCM"):
            drop_frame = ntsc and "NON" not in stripped.upper()
        if stripped[0].isdigit():
            if not seen_event:
                record_drop = drop_frame
            seen_event = True
            stripped = _spell_timecodes(stripped, drop_frame, record_drop)
            bare = _BARE_DURATION.match(stripped)
            if bare:  # "005  REEL V      008 ..." : a dissolve whose 'D' was left out
                stripped = f"{bare.group(1)}D    {bare.group(2)}{stripped[bare.end(2) :]}"
                notes.append("read a transition with no edit type as a dissolve")
        elif not seen_event and not _HEADER_STATEMENT.match(stripped):
            dropped += 1  # the adapter takes only TITLE and FCM before the first event
            continue
        kept.append(stripped)  # after the first event the adapter takes other lines as comments
    if dropped:
        notes.append(f"ignored {dropped} line(s) that are not CMX 3600 statements")
    return "\n".join(kept) + "\n", sorted(set(notes), key=notes.index), reels


def infer_rate(text: str) -> tuple[Fraction, bool, str]:
    """The list's frame rate and drop-frame flag, from FCM, a FORMAT comment and the timecodes.

    Returns (rate, drop_frame, how it was decided).
    """
    drop = _drop_frame_at_first_event(text)
    ntsc_seen = drop or bool(re.search(r"FCM:\s*DROP", text, re.IGNORECASE))
    max_frame = max((int(tc[-2:]) for tc in _TIMECODE.findall(text)), default=0)
    for line in text.splitlines():
        if line.startswith("*") and "FORMAT" in line.upper():
            found = _FORMAT_FPS.search(line)
            if found:
                stated = Fraction(found.group(1)).limit_denominator(1001)
                rate = exact_rate(float(stated), tolerance=0.01)
                return rate, drop and rate in _NTSC, "the list's FORMAT comment"
    if ntsc_seen:
        rate = Fraction(60000, 1001) if max_frame >= 30 else Fraction(30000, 1001)
        return rate, drop, "its drop-frame timecode"
    for limit, rate in ((23, 24), (24, 25), (29, 30), (49, 50), (59, 60)):
        if max_frame <= limit:
            how = (
                "the CMX default (pass --rate 23.976 for NTSC film)"
                if rate == 24
                else f"timecode frame numbers up to {max_frame}"
            )
            return Fraction(rate), False, how
    return Fraction(max_frame + 1), False, f"timecode frame numbers up to {max_frame}"


def _drop_frame_at_first_event(text: str) -> bool:
    """Whether the FCM in force at the first event (or its timecode spelling) is drop-frame."""
    drop: bool | None = None
    for line in text.splitlines():
        stripped = line.strip().upper()
        if stripped.startswith("FCM"):
            drop = "NON" not in stripped
        elif _EVENT.match(stripped):
            return drop if drop is not None else ";" in stripped
    return bool(drop)


_NTSC = (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001))


def read_edl(data: bytes, rate: Fraction | None = None) -> EdlReading:
    """Parse an EDL, inferring its rate unless given; raises the adapter's errors unchanged."""
    from otio_cmx3600_adapter import cmx_3600

    original = decode_edl(data)
    inferred, drop, how = infer_rate(original)
    rate_note = None
    if rate is None:
        rate = inferred
        rate_note = f"frame rate {float(rate):.3f} fps, from {how}"
    drop = drop and rate in _NTSC
    text, notes, reels = clean_edl(original, ntsc=rate in _NTSC)
    if rate_note:
        notes.append(rate_note)
    if not any(_EVENT.match(line) for line in text.splitlines()):
        raise cmx_3600.EDLParseError("no CMX 3600 events found (not an EDL?)")
    try:
        timeline = cmx_3600.read_from_string(text, rate=float(rate), ignore_timecode_mismatch=drop)
    except cmx_3600.EDLParseError as err:
        if "duration" not in str(err):
            raise
        timeline = cmx_3600.read_from_string(text, rate=float(rate), ignore_timecode_mismatch=True)
        notes.append(f"source and record durations disagree; used record durations ({err})")
    return EdlReading(timeline, rate, drop, tuple(notes), reels, _first_record_in(text, rate))


def _first_record_in(text: str, rate: Fraction) -> int:
    for line in text.splitlines():
        event = _EVENT.match(line)
        if event:
            return parse_timecode(event.group(4), rate)
    return 0
