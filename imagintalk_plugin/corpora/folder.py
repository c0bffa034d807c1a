"""A plain folder of talking-head videos, each with a plain-text `<stem>.txt` transcript.

Videos directly in the folder are one speaker (named by `--speaker`, else the folder's name);
each subfolder is a speaker of its own, named by the subfolder (videos deeper down belong to
the subfolder they are under). Transcripts give no word timings.
"""

from __future__ import annotations

from pathlib import Path

from imagintalk_plugin.corpora.clips import (
    SourceClip,
    find_videos,
    normalise_text,
    untranscribed,
)


def read_plain_transcript(path: Path) -> str:
    """The transcript as lower-case single-spaced words; `ValueError` when it is empty."""
    text = normalise_text(path.read_text(encoding="utf-8"))
    if not text:
        raise ValueError("empty transcript")
    return text


def scan_folder(root: Path) -> list[SourceClip]:
    """Every video under `root` with its transcript; the first folder level names speakers."""
    clips = []
    for video in find_videos(root):
        parts = video.relative_to(root).parts
        speaker = parts[0] if len(parts) > 1 else root.name
        name = "-".join((*parts[1:-1], video.stem)) if len(parts) > 2 else video.stem
        transcript = video.with_suffix(".txt")
        if not transcript.is_file():
            clips.append(untranscribed(name, video, speaker))
            continue
        try:
            text = read_plain_transcript(transcript)
        except (ValueError, OSError, UnicodeDecodeError) as error:
            problem = f"bad transcript '{transcript}': {error}"
            clips.append(SourceClip(name, video, speaker, problem=problem))
            continue
        clips.append(SourceClip(name, video, speaker, text))
    return clips
