"""Finding an offline clip's media among the files of some folders: by file name, by reel, by
source timecode, never by guessing.

`MediaIndex` lists the files under the folders once (recursively, hidden ones skipped, each
file once even when folders overlap) and answers `match(wanted)`. The three ways are tried in
order; the first that finds anything gives the candidates, and when it finds several the later
ways narrow them (two files of the same name told apart by their timecode). Candidates that
stay equally good are reported as ambiguous, not picked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from opentimelineio.opentime import RationalTime

from imagintalk_plugin.timeline.media_probe import VIDEO_SUFFIXES, MediaTiming, probe_timing
from imagintalk_plugin.timeline.timecode import exact_rate, parse_timecode

FILE_NAME, REEL, SOURCE_TIMECODE = "file name", "reel", "source timecode"
_MIN_PREFIX = 3  # a reel shorter than this never matches the start of a longer file name
_SHOWN = 3  # ambiguous candidates named in a reason


@dataclass(frozen=True)
class Wanted:
    """What is known of a clip's lost media: its file name, reel-like names, source range."""

    file_name: str  # "" when the clip names no file
    reel: str  # the EDL reel ("" when none): a file stem, or its start when cut to 8 characters
    names: tuple[str, ...]  # source file, AAF/FCP names: compared with whole file stems
    source_start: RationalTime | None  # the clip's first source frame (media timecode)
    source_duration: RationalTime | None


@dataclass(frozen=True)
class Match:
    """A file found (how it was decided), or why none was: no match, or an ambiguous one."""

    path: Path | None
    how: str
    reason: str = ""


def normalized(name: str) -> str:
    """A name as reels and file stems are compared: a video suffix dropped, then letters and
    digits only, lower case ("ZZ100_501.LAY3.01" and "zz100 501 lay3 01.mov" agree)."""
    stem = name.strip()
    suffix = Path(stem).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        stem = stem[: -len(suffix)]
    return re.sub(r"[^0-9a-z]+", "", stem.lower())


class MediaIndex:
    """The files under some folders, indexed for matching; probes timecodes lazily, once."""

    def __init__(self, folders: Sequence[Path]) -> None:
        seen: dict[Path, Path] = {}
        for folder in folders:
            for path in _files_under(folder):
                seen.setdefault(path.resolve(), path)
        self.files = sorted(seen.values())
        self._by_name: dict[str, list[Path]] = {}
        self._videos: list[tuple[str, Path]] = []
        for path in self.files:
            self._by_name.setdefault(path.name.lower(), []).append(path)
            if path.suffix.lower() in VIDEO_SUFFIXES:
                self._videos.append((normalized(path.name), path))
        self._timings: dict[Path, MediaTiming | None] = {}

    def match(self, wanted: Wanted) -> Match:
        """The one file that fits `wanted`, or why there is none."""
        stages = [
            (FILE_NAME, self._by_file_name),
            (REEL, self._by_reel),
            (SOURCE_TIMECODE, self._by_timecode),
        ]
        for index, (how, find) in enumerate(stages):
            pool = find(wanted, None)
            if not pool:
                continue
            for later_how, narrow in stages[index + 1 :]:
                if len(pool) == 1:
                    break
                narrowed = narrow(wanted, pool)
                if narrowed:
                    pool, how = narrowed, later_how
            if len(pool) == 1:
                return Match(pool[0], how)
            shown = ", ".join(str(p) for p in pool[:_SHOWN]) + (
                ", ..." if len(pool) > _SHOWN else ""
            )
            return Match(None, how, f"ambiguous: {len(pool)} files match by {how} ({shown})")
        return Match(None, "", "no file matches")

    def _by_file_name(self, wanted: Wanted, pool: list[Path] | None) -> list[Path]:
        if not wanted.file_name:
            return []
        found = self._by_name.get(wanted.file_name.lower(), [])
        return [p for p in found if pool is None or p in pool]

    def _by_reel(self, wanted: Wanted, pool: list[Path] | None) -> list[Path]:
        """Files whose stem is the reel or one of the names; failing that, files whose stem
        starts with the reel (EDL reels are cut to 8 characters), but only for a clip that
        names nothing longer, which such a file could contradict."""
        reel = normalized(wanted.reel)
        names = {n for n in (normalized(name) for name in (*wanted.names, wanted.reel)) if n}
        if not names:
            return []
        videos = [(stem, p) for stem, p in self._videos if pool is None or p in pool]
        exact = [p for stem, p in videos if stem in names]
        if exact or wanted.file_name or names != {reel} or len(reel) < _MIN_PREFIX:
            return exact
        return [p for stem, p in videos if stem.startswith(reel)]

    def _by_timecode(self, wanted: Wanted, pool: list[Path] | None) -> list[Path]:
        start, duration = wanted.source_start, wanted.source_duration
        if start is None or duration is None:
            return []
        videos = [p for _, p in self._videos if pool is None or p in pool]
        return [p for p in videos if _covers(self._timing(p), start, duration)]

    def _timing(self, path: Path) -> MediaTiming | None:
        if path not in self._timings:
            self._timings[path] = probe_timing(path)
        return self._timings[path]


def _files_under(folder: Path) -> list[Path]:
    """Every non-hidden file under `folder`, recursively (symlinked files included)."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / n for n in names if not n.startswith(".")]
    return [p for p in found if p.is_file()]


def _covers(timing: MediaTiming | None, start: RationalTime, duration: RationalTime) -> bool:
    """Whether a file's timecode span holds the clip's source range (half a frame of slack).

    Compared in seconds of timecode: frame counts at each side's own exact rate, so a clip and
    a file at the same rate compare exactly, drop-frame included.
    """
    if timing is None:
        return False
    try:
        file_start = Fraction(parse_timecode(timing.timecode, timing.rate)) / timing.rate
    except (ValueError, RuntimeError):  # a malformed timecode tag
        return False
    clip_rate = exact_rate(start.rate)
    clip_start = Fraction(round(start.value)) / clip_rate
    clip_end = clip_start + Fraction(round(duration.value_rescaled_to(start.rate))) / clip_rate
    slack = Fraction(1, 2) / timing.rate
    file_end = file_start + Fraction(timing.duration_s).limit_denominator(1_000_000)
    return file_start - slack <= clip_start and clip_end <= file_end + slack
