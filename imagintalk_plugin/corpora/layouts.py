"""From a source folder and a layout name to the corpus's clips, sorted by id.

The layout readers only find clips; this applies what the user says about speakers
(`--speaker`, `--speaker-map`) and transcripts (`--allow-untranscribed`), marks clips whose
id repeats, and refuses a source that is missing or holds no clip of the layout (a one-line
`CorpusSourceError`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from imagintalk_plugin.core.errors import CorpusSourceError, UsageError
from imagintalk_plugin.corpora.clips import NO_TRANSCRIPT, SourceClip, speaker_override
from imagintalk_plugin.corpora.folder import scan_folder
from imagintalk_plugin.corpora.grid import scan_grid
from imagintalk_plugin.corpora.lrs import scan_lrs

LAYOUTS: dict[str, Callable[[Path], list[SourceClip]]] = {
    "grid": scan_grid,
    "lrs3": scan_lrs,
    "folder": scan_folder,
}
TEXT_SETS = {"grid": "grid", "lrs3": "free", "folder": "free"}  # the manifest's `text_set`


def read_speaker_map(path: Path) -> dict[str, str]:
    """`--speaker-map`: a text file of `CLIP SPEAKER` lines (clip name or id; `#` comments)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read --speaker-map '{path}': {error}") from error
    mapping = {}
    for number, line in enumerate(lines, 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 2:
            raise UsageError(f"--speaker-map '{path}' line {number}: want 'CLIP SPEAKER'")
        mapping[fields[0]] = fields[1]
    return mapping


def scan_source(
    src: Path,
    layout: str,
    *,
    speaker: str | None = None,
    speaker_map: dict[str, str] | None = None,
    allow_untranscribed: bool = False,
) -> list[SourceClip]:
    """The clips of `src` read as `layout`, speakers as asked, sorted by id, duplicates marked;
    with `allow_untranscribed`, clips without a transcript file are kept with empty text."""
    if layout not in LAYOUTS:
        raise UsageError(f"unknown layout '{layout}': choose {', '.join(LAYOUTS)}")
    if not src.exists():
        raise CorpusSourceError(src, "no such folder")
    if not src.is_dir():
        raise CorpusSourceError(src, "not a folder")
    clips = LAYOUTS[layout](src.resolve())
    if not clips:
        raise CorpusSourceError(src, f"no video clips found for the '{layout}' layout")
    if allow_untranscribed:
        clips = [
            replace(c, problem=None) if (c.problem or "").startswith(NO_TRANSCRIPT) else c
            for c in clips
        ]
    if speaker:
        clips = [replace(clip, speaker=speaker) for clip in clips]
    if speaker_map:
        clips = speaker_override(clips, speaker_map)
    return _mark_duplicates(sorted(clips, key=lambda c: (c.id, str(c.video))))


def _mark_duplicates(clips: list[SourceClip]) -> list[SourceClip]:
    """Clips whose id an earlier clip already has get that as their problem."""
    first: dict[str, Path] = {}
    out = []
    for clip in clips:
        if clip.id in first and clip.problem is None:
            clip = replace(clip, problem=f"id '{clip.id}' is already taken by {first[clip.id]}")
        first.setdefault(clip.id, clip.video)
        out.append(clip)
    return out
