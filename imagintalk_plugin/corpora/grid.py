"""The GRID corpus: `.mpg`/`.mp4` clips, `.align` word timings, sentence codes in file names.

Two layouts are read the same way: the original (`s1/*.mpg` with `alignments/s1/*.align` or
`align/*.align`) and a re-encoded one (`video/<id>.mp4` with `align/<id>.align`). A clip's
name is the last `_`-separated part of its stem (`id2_vcd_swwp2s` -> `swwp2s`), which is the
GRID sentence code. Its words come from the `.align` file of that name (times in 1/25000 s;
`sil` and `sp` are silence and dropped); without one, from the code itself, untimed.
"""

from __future__ import annotations

import re
from pathlib import Path

from imagintalk_plugin.core.manifest import Segment
from imagintalk_plugin.corpora.clips import SourceClip, find_videos

ALIGN_RATE = 25000  # .align time units per second
SILENCE = frozenset({"sil", "sp"})
GENERIC_FOLDERS = frozenset({"video", "videos", "mpg", "mp4", "clips", "data", "mpg_vcd"})
_SPEAKER = re.compile(r"s\d+")
_SPEAKER_SUFFIX = re.compile(r"(?:^|[-_. ])(s\d+)$")  # "grid-s1" -> "s1"

# the six slots of a GRID sentence code, e.g. "bbaf2n" = "bin blue at f two now"
_COMMANDS = {"b": "bin", "l": "lay", "p": "place", "s": "set"}
_COLOURS = {"b": "blue", "g": "green", "r": "red", "w": "white"}
_PREPOSITIONS = {"a": "at", "b": "by", "i": "in", "w": "with"}
_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_DIGITS = dict(zip("z123456789", _NUMBERS, strict=True))
_ADVERBS = {"a": "again", "n": "now", "p": "please", "s": "soon"}
_LETTERS = "abcdefghijklmnopqrstuvxyz"  # GRID has no "w"


def sentence_from_code(code: str) -> str | None:
    """The sentence a GRID code names ("bbaf2n" -> "bin blue at f two now"), or None."""
    code = code.lower()
    if len(code) != 6 or code[3] not in _LETTERS:
        return None
    slots = (_COMMANDS, _COLOURS, _PREPOSITIONS, None, _DIGITS, _ADVERBS)
    words = [code[i] if table is None else table.get(code[i]) for i, table in enumerate(slots)]
    return None if None in words else " ".join(str(w) for w in words)


def read_align(path: Path) -> tuple[Segment, ...]:
    """The spoken words of a `.align` file with start/end in seconds (silences dropped).

    Raises `ValueError` naming the line when the file is malformed or holds no words.
    """
    words: list[Segment] = []
    previous_end = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            start, end = int(parts[0]), int(parts[1])
        except (IndexError, ValueError):
            raise ValueError(f"line {number} is not 'start end word'") from None
        if len(parts) != 3 or not 0 <= start <= end or start < previous_end:
            raise ValueError(f"line {number} is not 'start end word' in time order")
        previous_end = end
        label = parts[2].lower()
        if label not in SILENCE:
            words.append(Segment(label, round(start / ALIGN_RATE, 5), round(end / ALIGN_RATE, 5)))
    if not words:
        raise ValueError("no words")
    return tuple(words)


def grid_speaker(video: Path, root: Path) -> str:
    """Who speaks in `video`: its folder when named like `s1`; for a generic folder (`video`)
    or the corpus folder itself, the corpus folder's name, `grid-s1` giving `s1`."""
    folder = video.parent
    if _SPEAKER.fullmatch(folder.name):
        return folder.name
    if folder != root and folder.name.lower() not in GENERIC_FOLDERS:
        return folder.name
    match = _SPEAKER_SUFFIX.search(root.name)
    return match.group(1) if match else root.name


def _align_index(root: Path) -> dict[str, list[Path]]:
    """Every `.align` file under `root` (and `../alignments/<root>` of a speaker folder) by stem."""
    index: dict[str, list[Path]] = {}
    outside = root.parent / "alignments" / root.name
    for folder in (root, outside) if outside.is_dir() else (root,):
        for path in sorted(folder.rglob("*.align")):
            index.setdefault(path.stem, []).append(path)
    return index


def _pick_align(candidates: list[Path], video: Path) -> Path | None:
    """The `.align` file of a clip: the one in its speaker's folder or beside it, else the
    only one with its name."""
    for path in candidates:
        if path.parent.name == video.parent.name or path.parent == video.parent:
            return path
    return candidates[0] if len(candidates) == 1 else None


def scan_grid(root: Path) -> list[SourceClip]:
    """Every GRID clip under `root` with its words (timed from `.align`, else from the code)."""
    aligns = _align_index(root)
    clips = []
    for video in find_videos(root):
        name = video.stem.split("_")[-1]
        speaker = grid_speaker(video, root)
        align = _pick_align(aligns.get(name, []), video)
        if align is not None:
            try:
                words = read_align(align)
            except (ValueError, OSError, UnicodeDecodeError) as error:
                problem = f"bad align file '{align}': {error}"
                clips.append(SourceClip(name, video, speaker, problem=problem))
                continue
            text = " ".join(w.label for w in words)
            clips.append(SourceClip(name, video, speaker, text, words))
            continue
        text = sentence_from_code(name)
        problem = None if text else f"no .align file and '{name}' is not a GRID sentence code"
        clips.append(SourceClip(name, video, speaker, text or "", problem=problem))
    return clips
