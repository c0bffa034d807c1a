"""LRS3 and LRS2: `<root>/<speaker>/<clip>.mp4` with a `<clip>.txt` transcript beside it.

An LRS3 transcript is `Text:  WORDS`, `Conf:  N`, a blank line, then a `WORD START END
ASDSCORE` table with each word's times in seconds; LRS2's main set has only the first two
lines (its words are then untimed). The speaker is the folder holding the clip (LRS3: the
YouTube video id); split folders above it (`pretrain/`, `trainval/`, `test/`) are ignored.
"""

from __future__ import annotations

from pathlib import Path

from imagintalk_plugin.core.manifest import Segment
from imagintalk_plugin.corpora.clips import (
    SourceClip,
    find_videos,
    normalise_text,
    untranscribed,
)


def read_lrs_transcript(path: Path) -> tuple[str, tuple[Segment, ...]]:
    """The transcript and, when the file has a word table, each word's start/end in seconds.

    Raises `ValueError` when there is no `Text:` line, it is empty, or the table is malformed.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    text = next((line.split(":", 1)[1] for line in lines if line.startswith("Text:")), None)
    if text is None:
        raise ValueError("no 'Text:' line")
    text = normalise_text(text)
    if not text:
        raise ValueError("empty 'Text:' line")
    table = ["WORD", "START", "END"]
    header = next((i for i, line in enumerate(lines) if line.split()[:3] == table), None)
    if header is None:
        return text, ()
    words: list[Segment] = []
    for number, line in enumerate(lines[header + 1 :], header + 2):
        parts = line.split()
        if not parts:
            continue
        try:
            start, end = float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            raise ValueError(f"line {number} is not 'WORD START END ASDSCORE'") from None
        if not 0 <= start <= end or (words and start < words[-1].start):
            raise ValueError(f"line {number}: times out of order")
        words.append(Segment(parts[0].lower(), round(start, 4), round(end, 4)))
    return text, tuple(words)


def scan_lrs(root: Path) -> list[SourceClip]:
    """Every clip under `root` with its transcript (timed words where the file has them)."""
    clips = []
    for video in find_videos(root):
        speaker = video.parent.name
        name = video.stem
        transcript = video.with_suffix(".txt")
        if not transcript.is_file():
            clips.append(untranscribed(name, video, speaker))
            continue
        try:
            text, words = read_lrs_transcript(transcript)
        except (ValueError, OSError, UnicodeDecodeError) as error:
            problem = f"bad transcript '{transcript}': {error}"
            clips.append(SourceClip(name, video, speaker, problem=problem))
            continue
        clips.append(SourceClip(name, video, speaker, text, words))
    return clips
