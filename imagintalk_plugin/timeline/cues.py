"""ADR cue sheets: a CSV of cues in (`read_cue_sheet`, `match_cues`), a dub's cue list out
(`write_cue_list`). Plain text and timecode only: no models.

**In.** One header row, then one cue a row. Header names are case-insensitive, and `_` or `-`
count as spaces. Columns (others are ignored, so a cue list the dub wrote reads back in):

- `Cue` (also `Cue Number`, `Cue #`): the cue's number; empty = its row number.
- `Character` (also `Role`, `Speaker`): who speaks it.
- `Clip ID` (also `Clip`): the clip, as `imagintalk timeline inspect` lists it; or
- `TC In` and `TC Out` (also `Record In`, `Record TC In`, ...): record timecodes, HH:MM:SS:FF
  (`;` before the frames for drop-frame), TC Out exclusive as in an EDL. The cue goes to the
  clip it overlaps most (the first listed on a tie). A clip id wins over timecodes.
- `Line` (also `Dialogue`, `Text`): the words; required.
- `Notes`, and `Cast` (`face:CLIP_ID`, `voice:WAV`, `bank:NAME` or `own`: the character's
  voice, see `pipeline/casting.py`).

UTF-8 with or without a byte-order mark; `,` `;` or tab between fields (read from the header);
Excel's quoting (`"..."`, `""` for a quote, line breaks inside quotes). Rows are counted as a
spreadsheet shows them: the header is row 1. Every problem is one `CueSheetError` line naming
the row. Several cues of one clip are spoken as one line, in their order on the sheet.

**Out.** `write_cue_list`: `Cue, Character, Clip ID, TC In, TC Out, Line, Take, Circled, File,
Notes`, one row per take, UTF-8 with a byte-order mark (Excel then opens it with its accents
right; other spreadsheets ignore the mark), CRLF rows, quoted only where needed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.timeline.reading import LoadedTimeline
from imagintalk_plugin.timeline.timecode import parse_timecode, timecode, to_frames

_ALIASES = {
    "cue": ("cue", "cue number", "cue no", "cue #", "cue#", "#"),
    "character": ("character", "char", "role", "speaker"),
    "clip id": ("clip id", "clip"),
    "tc in": ("tc in", "record tc in", "record in", "rec in", "timecode in"),
    "tc out": ("tc out", "record tc out", "record out", "rec out", "timecode out"),
    "line": ("line", "dialogue", "text"),
    "notes": ("notes", "note", "comment", "comments"),
    "cast": ("cast",),
}
_COLUMN_OF = {alias: column for column, aliases in _ALIASES.items() for alias in aliases}
_TIMECODE = re.compile(r"^\d{1,2}:\d{2}:\d{2}[:;]\d{2,3}$")
CUE_LIST_COLUMNS = (
    "Cue", "Character", "Clip ID", "TC In", "TC Out", "Line", "Take", "Circled", "File", "Notes",
)  # fmt: skip


class CueSheetError(UsageError):
    """A cue sheet that cannot be used: one line naming the file and the row."""

    def __init__(self, path: str | Path, row: int | None, reason: str) -> None:
        where = f"cue sheet {path}" + (f" row {row}" if row is not None else "")
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Cue:
    """One row of a cue sheet."""

    row: int  # as a spreadsheet counts them: the header is row 1
    cue: str
    line: str
    character: str | None = None
    clip_id: str | None = None
    tc_in: str | None = None
    tc_out: str | None = None
    notes: str = ""
    cast: str | None = None


@dataclass(frozen=True)
class ClipCues:
    """The cues that fall on one clip, in sheet order."""

    clip_id: str
    cues: tuple[Cue, ...]

    @property
    def line(self) -> str:
        return " ".join(c.line for c in self.cues)

    @property
    def character(self) -> str | None:
        return next((c.character for c in self.cues if c.character), None)

    @property
    def cue(self) -> str:
        return "+".join(c.cue for c in self.cues)

    @property
    def notes(self) -> str:
        return "; ".join(c.notes for c in self.cues if c.notes)


def read_cue_sheet(path: str | Path) -> list[Cue]:
    """The cues of a CSV cue sheet, checked row by row (`CueSheetError` on the first bad one)."""
    path = Path(path)
    if not path.is_file():
        raise CueSheetError(path, None, "does not exist" if not path.exists() else "not a file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CueSheetError(path, None, "is not UTF-8 text (save it as 'CSV UTF-8')") from None
    except OSError as err:
        raise CueSheetError(path, None, f"cannot be read ({err.strerror or err})") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    columns: dict[str, int] | None = None
    cues: list[Cue] = []
    row = 0
    try:
        for row, fields in enumerate(reader, start=1):
            fields = [f.strip() for f in fields]
            if not any(fields):
                continue
            if columns is None:
                columns = _header(path, row, fields)
                width = len(fields)
            elif any(fields[width:]):
                raise CueSheetError(path, row, f"{len(fields)} fields, the header has {width}")
            else:
                cues.append(_cue(path, row, fields, columns))
    except csv.Error as err:
        raise CueSheetError(path, row + 1, f"malformed CSV ({err})") from None
    if not cues:
        raise CueSheetError(path, None, "has no cues")
    return _merged(path, cues)


def _header(path: Path, row: int, fields: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, name in enumerate(fields):
        column = _COLUMN_OF.get(" ".join(re.sub(r"[_-]", " ", name.lower()).split()))
        if column is None:
            continue
        if column in columns:
            raise CueSheetError(path, row, f"two '{column}' columns")
        columns[column] = index
    if "line" not in columns:
        raise CueSheetError(path, row, f"no 'Line' column in the header ({', '.join(fields)})")
    if "clip id" not in columns and not {"tc in", "tc out"} <= columns.keys():
        raise CueSheetError(path, row, "the header needs a 'Clip ID' or 'TC In' and 'TC Out'")
    return columns


def _cue(path: Path, row: int, fields: list[str], columns: dict[str, int]) -> Cue:
    def get(column: str) -> str | None:
        index = columns.get(column)
        value = fields[index] if index is not None and index < len(fields) else ""
        return value or None

    number = get("cue") or str(row)
    line = " ".join((get("line") or "").split())
    if not line:
        raise CueSheetError(path, row, f"cue {number} has no line")
    tc_in, tc_out = get("tc in"), get("tc out")
    for label, value in (("TC In", tc_in), ("TC Out", tc_out)):
        if value is not None and not _TIMECODE.match(value):
            raise CueSheetError(path, row, f"{label} '{value}' is not a timecode (HH:MM:SS:FF)")
    if get("clip id") is None and (tc_in is None or tc_out is None):
        missing = "neither a clip id nor" if tc_in is None and tc_out is None else "no clip id and"
        raise CueSheetError(path, row, f"cue {number} has {missing} both TC In and TC Out")
    return Cue(
        row,
        number,
        line,
        character=get("character"),
        clip_id=get("clip id"),
        tc_in=tc_in,
        tc_out=tc_out,
        notes=get("notes") or "",
        cast=get("cast"),
    )


def _merged(path: Path, cues: list[Cue]) -> list[Cue]:
    """One cue per number: a cue list's rows of one cue's takes read as that one cue; two
    different cues of one number are an error."""
    first: dict[str, Cue] = {}
    kept = []
    for cue in cues:
        seen = first.get(cue.cue)
        if seen is None:
            first[cue.cue] = cue
            kept.append(cue)
        elif {**seen.__dict__, "row": 0} != {**cue.__dict__, "row": 0}:
            raise CueSheetError(path, cue.row, f"cue {cue.cue} again (first on row {seen.row})")
    return kept


def match_cues(
    path: str | Path, cues: Sequence[Cue], loaded: LoadedTimeline, clips: Sequence[ClipRef]
) -> dict[str, ClipCues]:
    """Clip id -> the cues on that clip: by clip id, else by the record timecodes overlapping
    the clip most. A cue off the timeline, on no clip, or naming an unknown clip is an error."""
    by_id = {c.clip_id: c for c in clips}
    fps, start = loaded.rate, to_frames(loaded.start, loaded.rate)
    end = to_frames(loaded.timeline.duration(), fps)
    matched: dict[str, list[Cue]] = {}
    for cue in cues:
        if cue.clip_id is not None:
            if cue.clip_id not in by_id:
                shown = ", ".join(list(by_id)[:8]) + (" ..." if len(by_id) > 8 else "")
                reason = f"no clip '{cue.clip_id}' on the timeline (clips: {shown or 'none'})"
                raise CueSheetError(path, cue.row, reason)
            clip_id = cue.clip_id
        else:
            clip_id = _by_timecode(path, cue, clips, fps, start, end, loaded.drop_frame)
        matched.setdefault(clip_id, []).append(cue)
    result = {}
    for clip_id, own in matched.items():
        characters = {c.character for c in own if c.character}
        if len(characters) > 1:
            first = next(c for c in own if c.character)
            later = next(c for c in own if c.character and c.character != first.character)
            reason = (
                f"cue {later.cue} ({later.character}) falls on clip {clip_id} with cue "
                f"{first.cue} ({first.character}); a clip speaks for one character"
            )
            raise CueSheetError(path, later.row, reason)
        result[clip_id] = ClipCues(clip_id, tuple(own))
    return result


def _by_timecode(
    path: str | Path,
    cue: Cue,
    clips: Sequence[ClipRef],
    fps: Fraction,
    start: int,
    end: int,
    drop: bool,
) -> str:
    try:
        first = parse_timecode(cue.tc_in or "", fps) - start
        last = parse_timecode(cue.tc_out or "", fps) - start
    except ValueError as err:
        raise CueSheetError(path, cue.row, f"bad timecode ({err})") from None
    if last <= first:
        raise CueSheetError(path, cue.row, f"TC Out {cue.tc_out} is not after TC In {cue.tc_in}")
    if first < 0 or last > end:
        span = f"{timecode(start, fps, drop)}-{timecode(start + end, fps, drop)}"
        reason = f"record TC {cue.tc_in}-{cue.tc_out} is outside the timeline ({span})"
        raise CueSheetError(path, cue.row, reason)
    best, overlap = None, 0
    for clip in clips:
        clip_first = to_frames(clip.record_range.start_time, fps)
        clip_last = clip_first + clip.duration_frames
        shared = min(last, clip_last) - max(first, clip_first)
        if shared > overlap:
            best, overlap = clip, shared
    if best is None:
        raise CueSheetError(path, cue.row, f"no dubbable clip under {cue.tc_in}-{cue.tc_out}")
    return best.clip_id


def record_timecodes(clip: ClipRef) -> tuple[str, str]:
    """The clip's record TC in and out (out exclusive), as the timeline displays them."""
    fps = clip.timeline_fps
    first = to_frames(clip.timeline_start, fps) + to_frames(clip.record_range.start_time, fps)
    last = first + clip.duration_frames
    return timecode(first, fps, clip.drop_frame), timecode(last, fps, clip.drop_frame)


@dataclass(frozen=True)
class CueListRow:
    """One take of one cue in a dub's cue list."""

    cue: str
    character: str
    clip_id: str
    tc_in: str
    tc_out: str
    line: str
    take: int | None  # None: the clip got no take
    circled: bool
    file: str
    notes: str = ""

    def fields(self) -> list[str]:
        take = "" if self.take is None else str(self.take)
        return [
            self.cue, self.character, self.clip_id, self.tc_in, self.tc_out, self.line,
            take, "yes" if self.circled else "", self.file, self.notes,
        ]  # fmt: skip


def write_cue_list(path: str | Path, rows: Sequence[CueListRow]) -> Path:
    """The cue list as a CSV at `path`, written atomically (UTF-8 with a byte-order mark)."""
    path = Path(path)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CUE_LIST_COLUMNS)
    writer.writerows(row.fields() for row in rows)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return path
