"""A clip found in a source corpus, before anything is extracted from it.

Every layout reader turns its folder into `SourceClip`s: where the video is, who speaks, what
is said and, when the corpus has them, when each word is said. A clip whose transcript cannot
be used keeps its `problem` instead of being dropped, so the import report can say why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from imagintalk_plugin.core.manifest import Segment

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".mpg", ".mpeg", ".webm"})
AUDIO_SUFFIXES = (".wav", ".flac")  # a sibling audio file with the video's stem wins
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
NO_TRANSCRIPT = "no transcript"  # how a missing transcript's problem starts


@dataclass(frozen=True)
class SourceClip:
    """One clip of a source corpus: media, speaker, transcript, word timings (if known)."""

    name: str  # the clip's own name (GRID sentence code, LRS clip number, file stem)
    video: Path
    speaker: str
    text: str = ""  # lower-case words separated by single spaces
    words: tuple[Segment, ...] = ()  # empty when the corpus gives no word timings
    problem: str | None = None  # why the clip cannot be used (bad transcript ...), or None

    @property
    def id(self) -> str:
        """The manifest id (names audio/<id>.wav): see `clip_id`."""
        return clip_id(self.speaker, self.name)

    @property
    def words_timed(self) -> bool:
        """Whether `words` holds real per-word timings (else only `text` is known)."""
        return bool(self.words)


def safe_name(text: str) -> str:
    """`text` as a file-name-safe id part (runs of other characters become `-`)."""
    return _UNSAFE.sub("-", text).strip("-") or "x"


def clip_id(speaker: str, name: str) -> str:
    """The manifest id of a clip: `<speaker>_<name>`, unique across speakers of one corpus
    (GRID sentence codes and LRS clip numbers repeat from speaker to speaker)."""
    return f"{safe_name(speaker)}_{safe_name(name)}"


def normalise_text(text: str) -> str:
    """Lower case, single spaces: how every imported transcript is stored."""
    return " ".join(text.lower().split())


def find_videos(root: Path, recursive: bool = True) -> list[Path]:
    """The video files under `root` (hidden folders skipped), sorted."""
    pattern = "**/*" if recursive else "*"
    return sorted(
        p
        for p in root.glob(pattern)
        if p.suffix.lower() in VIDEO_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def sibling_audio(video: Path) -> Path | None:
    """A `.wav`/`.flac` file beside `video` with its stem, or None."""
    for suffix in AUDIO_SUFFIXES:
        candidate = video.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def untranscribed(name: str, video: Path, speaker: str) -> SourceClip:
    """A clip with no transcript file: unusable unless `--allow-untranscribed` keeps it."""
    problem = f"{NO_TRANSCRIPT} '{video.with_suffix('.txt').name}' beside the video"
    return SourceClip(name, video, speaker, problem=problem)


def speaker_override(clips: Iterable[SourceClip], mapping: dict[str, str]) -> list[SourceClip]:
    """The clips with the speakers `--speaker-map` gives (keyed by clip name or id)."""
    return [
        replace(clip, speaker=mapping.get(clip.id, mapping.get(clip.name, clip.speaker)))
        for clip in clips
    ]
