"""The corpus manifest: one JSON object per line describing an utterance and its ground truth.

ImaginTalk-Synth writes it, training and the judges read it. Paths are stored relative to the
manifest's folder (so a corpus can be moved) and resolved on reading. Times are seconds from
the start of the clip's audio and video (both start together).

A line looks like:
  {"id": "s003_0007", "video": "video/s003_0007.mp4", "audio": "audio/s003_0007.wav",
   "text": "bin blue at f two now", "text_set": "grid",
   "words": [{"label": "bin", "start": 0.05, "end": 0.31}, ...], "phonemes": [...],
   "speaker": "s003", "voice": {"variant": "m3", "pitch": 52, "pitch_range": 50, "speed": 165},
   "emotion": "happy", "split": "train", "duration": 1.84}

Real corpora (`imagintalk corpus import`) have no espeak-ng voice: their `voice` is null, and
`phonemes` may be empty.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.errors import ManifestError

SPLITS = ("train", "valid", "test")
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Segment:
    """A word or phoneme with its start and end in seconds."""

    label: str
    start: float
    end: float


@dataclass(frozen=True)
class Voice:
    """The espeak-ng voice an utterance was spoken with (the speaker's voice after emotion)."""

    variant: str
    pitch: int
    pitch_range: int
    speed: int


@dataclass(frozen=True)
class ManifestEntry:
    """One utterance: media files (absolute once read), transcript, timings and labels."""

    id: str
    video: Path
    audio: Path
    text: str
    text_set: str
    words: tuple[Segment, ...]
    phonemes: tuple[Segment, ...]
    speaker: str
    voice: Voice | None  # None: a real recording (no espeak-ng voice)
    emotion: str
    split: str
    duration: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self, root: Path) -> str:
        """One manifest line with paths relative to `root` (the manifest's folder)."""
        row = asdict(self)
        row.pop("extra")
        row.update(self.extra)
        row["video"] = _relative(self.video, root)
        row["audio"] = _relative(self.audio, root)
        row["words"] = [asdict(w) for w in self.words]
        row["phonemes"] = [asdict(p) for p in self.phonemes]
        return json.dumps(row, sort_keys=False, separators=(", ", ": "))


def _relative(path: Path, root: Path) -> str:
    """`path` relative to `root`, with `..` for media kept in place outside the corpus folder."""
    return Path(os.path.relpath(Path(path), root)).as_posix()


_FIELDS = (
    "id", "video", "audio", "text", "text_set", "words", "phonemes", "speaker", "voice",
    "emotion", "split", "duration",
)  # fmt: skip


def _entry(row: dict[str, Any], root: Path) -> ManifestEntry:
    missing = [name for name in _FIELDS if name not in row]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if row["split"] not in SPLITS:
        raise ValueError(f"split '{row['split']}' is not one of {', '.join(SPLITS)}")
    voice = row["voice"]
    return ManifestEntry(
        id=str(row["id"]),
        video=Path(os.path.normpath(root / row["video"])),
        audio=Path(os.path.normpath(root / row["audio"])),
        text=str(row["text"]),
        text_set=str(row["text_set"]),
        words=tuple(
            Segment(str(w["label"]), float(w["start"]), float(w["end"])) for w in row["words"]
        ),
        phonemes=tuple(
            Segment(str(p["label"]), float(p["start"]), float(p["end"])) for p in row["phonemes"]
        ),
        speaker=str(row["speaker"]),
        voice=None
        if voice is None
        else Voice(
            str(voice["variant"]),
            int(voice["pitch"]),
            int(voice["pitch_range"]),
            int(voice["speed"]),
        ),
        emotion=str(row["emotion"]),
        split=str(row["split"]),
        duration=float(row["duration"]),
        extra={k: v for k, v in row.items() if k not in _FIELDS},
    )


def read_manifest(path: str | Path, *, check_files: bool = True) -> list[ManifestEntry]:
    """Read every entry of a manifest; any bad line or missing file is a `ManifestError`."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ManifestError(path, exc.strerror or str(exc)) from exc
    root = path.resolve().parent
    entries, seen = [], set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = _entry(json.loads(line), root)
        except (ValueError, KeyError, TypeError) as exc:
            raise ManifestError(path, f"line {number}: {exc}") from exc
        if entry.id in seen:
            raise ManifestError(path, f"line {number}: id '{entry.id}' appears twice")
        seen.add(entry.id)
        if check_files:
            for media in (entry.video, entry.audio):
                if not media.is_file():
                    raise ManifestError(path, f"line {number}: file not found: {media}")
        entries.append(entry)
    if not entries:
        raise ManifestError(path, "no utterances")
    return entries
