"""The known line (ADR) a timeline carries on a clip, without a cue sheet.

Two places, the first that has one wins:

- the clip's metadata `metadata["imagintalk"]["line"]` (a string), as a script tool or the
  panel writes it;
- the clip's markers whose name, comment or note starts with `line:` (any case): the text
  after it. Several such markers are one line, in marker order. Editors add a clip marker and
  type `line: Where were you last night?` in its name or note (Resolve keeps the note in the
  marker's `Resolve_OTIO` metadata; FCP XML and OTIO in its comment).

Markers on the timeline ruler are not read: a cue sheet places lines by timecode instead.

`saved_entries` reads what a dub (or the panel's Place) saved in a timeline's own
`metadata["imagintalk"]`: `lines` and `characters` by clip id, `cast` by character.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import opentimelineio as otio

_PREFIX = re.compile(r"^\s*line\s*:\s*", re.IGNORECASE)


def clip_line(clip: otio.schema.Clip) -> str | None:
    """The line a clip carries, whitespace collapsed; None when it carries none."""
    ours = clip.metadata.get("imagintalk")
    line = ours.get("line") if hasattr(ours, "get") else None
    if isinstance(line, str) and line.strip():
        return " ".join(line.split())
    marked = []
    markers = sorted(clip.markers, key=lambda m: m.marked_range.start_time.to_seconds())
    for marker in markers:
        for text in _marker_texts(marker):
            found = _PREFIX.match(text)
            if found and text[found.end() :].strip():
                marked.append(" ".join(text[found.end() :].split()))
                break
    return " ".join(marked) or None


def _marker_texts(marker: otio.schema.Marker) -> list[str]:
    resolve = marker.metadata.get("Resolve_OTIO")
    note = resolve.get("Note") if hasattr(resolve, "get") else None
    texts = [marker.name, getattr(marker, "comment", ""), note]
    return [t for t in texts if isinstance(t, str) and t]


def saved_entries(timeline: otio.schema.Timeline, key: str) -> dict[str, str]:
    """The non-blank strings an earlier dub saved in the timeline's
    `metadata["imagintalk"][key]` (`lines`, `characters`, `cast`); {} when there are none."""
    ours = timeline.metadata.get("imagintalk")
    saved = ours.get(key) if isinstance(ours, Mapping) else None
    if not isinstance(saved, Mapping):
        return {}
    return {str(k): str(v) for k, v in saved.items() if isinstance(v, str) and v.strip()}
