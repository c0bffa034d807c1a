"""The panel's session beside its timeline: every take and clip setting, saved as it is made.

`<timeline stem>.imagintalk/` next to the timeline holds `session.json` (per clip: its style
settings, seed, timbre choice, line and character included, and its takes with their recipe,
their notes and which one is circled; and the characters' casts) and one folder per clip with
each take's files (`saved_takes`). A clip's saved line and character win over the timeline's,
unless the timeline's have changed since they were saved (a marker edited in the editor).
Every change is written at once, each file atomically, so closing the panel, or a crash, loses
nothing: the next panel on the same timeline shows the clips' takes again.

Reopening never fails: an unreadable session file is set aside (`session.json.bad`) with a
one-line note and the panel starts fresh; a take whose files are gone is dropped with a note;
a clip that has changed on the timeline (another source range or length) keeps its old record
on disk but is not given takes made for other picture. Where the timeline's folder cannot be
written (a read-only share, the shipped demo scene) the session lives under the user's data
folder instead. No Qt here: the controller uses this directly.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.files import atomic_path, remove_stale_temporaries
from imagintalk_plugin.core.paths import is_shipped
from imagintalk_plugin.panel_model.saved_takes import (
    SavedSpeech,
    info_from_record,
    info_record,
    take_files,
    write_take,
)
from imagintalk_plugin.panel_model.state import DONE, OFFLINE, ClipState, StyleSettings, Take
from imagintalk_plugin.timeline.timecode import to_frames

SESSION_SUFFIX = ".imagintalk"
SESSION_FILE = "session.json"
FORMAT, VERSION = "imagintalk-panel-session", 1


def user_sessions_dir() -> Path:
    """Where sessions go when they cannot go beside their timeline."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "imagintalk" / "sessions"


def session_folder(timeline: Path) -> Path:
    """`<stem>.imagintalk/` beside the timeline, or under `user_sessions_dir()` when that folder
    is not writable or the timeline is one the project ships (the demo scene)."""
    timeline = Path(timeline).resolve()
    beside = timeline.parent / f"{timeline.stem}{SESSION_SUFFIX}"
    shipped = is_shipped(timeline)
    if beside.is_dir() and os.access(beside, os.W_OK) and not shipped:
        return beside
    if os.access(timeline.parent, os.W_OK) and not shipped:
        return beside
    digest = hashlib.sha1(str(timeline).encode()).hexdigest()[:10]
    return user_sessions_dir() / f"{timeline.stem}-{digest}"


def clip_fingerprint(ref: ClipRef) -> dict[str, Any]:
    """What must not change for a clip's saved takes to still fit it: its name, where its
    picture starts in the media and its length (not its media path, which relinking changes,
    nor its place on the timeline, which Place reads afresh)."""
    media_fps = ref.media_fps or ref.source_range.start_time.rate
    return {
        "name": ref.name,
        "source_start_frame": to_frames(ref.source_range.start_time, media_fps),
        "frames": ref.duration_frames,
    }


def style_record(style: StyleSettings) -> dict[str, Any]:
    """A clip's style settings as JSON-ready data."""
    record = asdict(style)
    if style.reference_audio is not None:
        record["reference_audio"] = str(style.reference_audio)
    return record


def style_from_record(record: Mapping[str, Any], defaults: StyleSettings) -> StyleSettings:
    """Style settings from `style_record`'s data; missing fields keep `defaults`' values
    (ValueError / TypeError when a field is malformed)."""
    known = {f.name for f in fields(StyleSettings)}
    values = {k: v for k, v in record.items() if k in known}
    if values.get("reference_audio") is not None:
        values["reference_audio"] = Path(str(values["reference_audio"]))
    style = StyleSettings(**(asdict(defaults) | values))
    for name in ("pitch", "speed", "guidance"):
        float(getattr(style, name))  # a string here is a TypeError/ValueError now, not later
    int(style.seed), int(style.steps)
    return style


class SessionStore:
    """Reads a timeline's saved session into the panel's clips and writes their changes."""

    def __init__(self, folder: Path, timeline: Path) -> None:
        self.folder = Path(folder)
        self.timeline = Path(timeline)
        self._records: dict[str, dict[str, Any]] = {}  # clip id -> its record on disk
        self._written: set[tuple[str, int]] = set()  # takes whose files are on disk
        self.cast: dict[str, str] = {}  # character -> "KIND:VALUE", as saved and to save

    @classmethod
    def for_timeline(cls, timeline: Path) -> SessionStore:
        """The session of `timeline` (see `session_folder`)."""
        return cls(session_folder(timeline), timeline)

    @property
    def path(self) -> Path:
        """The session file."""
        return self.folder / SESSION_FILE

    # reading ---------------------------------------------------------------------------------
    def restore(self, clips: Mapping[str, ClipState]) -> list[str]:
        """Give the clips their saved styles and takes; returns one-line notes (never raises).

        A clip that lost a take, or whose settings could not be read, also gets its note in
        `error` (the clip list's Note column).
        """
        if not self.path.exists():
            return []
        if self.folder.is_dir():
            remove_stale_temporaries(self.folder)
        try:
            saved, cast = self._read()
        except (OSError, ValueError) as err:
            return [self._set_aside(err)]
        self.cast = cast
        notes, restored = [], 0
        for clip_id, record in saved.items():
            self._records[clip_id] = record
            state = clips.get(clip_id)
            if state is None:
                notes.append(f"{clip_id}: no longer on the timeline; its saved takes are kept")
                continue
            try:
                clip_notes = self._restore_clip(state, record)
            except (KeyError, TypeError, ValueError) as err:
                clip_notes = [f"saved settings unreadable ({err}); not restored"]
            restored += bool(state.takes)
            for line in clip_notes:
                notes.append(f"{clip_id}: {line}")
            if clip_notes:
                state.error = "; ".join(clip_notes)
        if restored:
            notes.insert(0, f"restored the takes of {restored} clip(s) from {self.folder.name}")
        return notes

    def _read(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not an ImaginTalk session file")
        if int(data.get("version", 0)) > VERSION:
            raise ValueError(f"made by a newer ImaginTalk (version {data.get('version')})")
        clips = data.get("clips")
        if not isinstance(clips, dict) or not all(isinstance(r, dict) for r in clips.values()):
            raise ValueError("its clips are not a table of clip records")
        cast = data.get("cast") or {}
        if not isinstance(cast, dict):
            raise ValueError("its cast is not a table of characters")
        return clips, {str(c): str(t) for c, t in cast.items() if isinstance(t, str)}

    def _set_aside(self, err: BaseException) -> str:
        reason = " ".join(str(err).split()) or type(err).__name__
        aside = self.path.with_name(SESSION_FILE + ".bad")
        try:
            self.path.replace(aside)
        except OSError:
            return f"session file {self.path} is unreadable ({reason}); starting afresh"
        return f"session file {self.path} was unreadable ({reason}); set aside as {aside.name}"

    def _restore_clip(self, state: ClipState, record: Mapping[str, Any]) -> list[str]:
        if record.get("fingerprint") != clip_fingerprint(state.ref):
            count = len(record.get("takes") or [])
            return [f"changed on the timeline since its {count} take(s) were made; not restored"]
        notes = []
        style = style_from_record(record.get("style") or {}, state.style)
        if style.reference_audio is not None and not Path(style.reference_audio).is_file():
            notes.append(f"reference voice {style.reference_audio} is gone; timbre from face")
            style = StyleSettings(**(asdict(style) | {"reference_audio": None}))
        seen = record.get("carried")
        if isinstance(seen, Mapping):  # the timeline's line / character changed since: theirs
            now = {"line": state.carried_line, "character": state.carried_character}
            style = replace(style, **{k: v for k, v in now.items() if seen.get(k) != v})
        state.style = style
        folder = self.folder / state.clip_id
        for item in record.get("takes") or []:
            number = int(item["number"])
            info = info_from_record(item["info"])
            notes_of = tuple(str(n) for n in item.get("notes") or ())
            speech = SavedSpeech(state.clip_id, folder, number, info, notes_of)
            try:
                speech.check()
            except ValueError as err:
                notes.append(f"take {number} dropped: {err}")
                continue
            take_style = style_from_record(item.get("style") or {}, state.style)
            state.takes.append(Take(number, speech, take_style, bool(item.get("circled"))))
            self._written.add((state.clip_id, number))
        state.takes.sort(key=lambda t: t.number)
        if state.takes and state.status != OFFLINE:
            state.status, state.fraction = DONE, 1.0
        return notes

    # writing ---------------------------------------------------------------------------------
    def save(self, state: ClipState) -> None:
        """Write the clip's new takes' files, then the session file (atomically).

        Raises OSError or `ImagintalkError` when the folder cannot be written.
        """
        self.record(state)
        self.write()

    def record(self, state: ClipState) -> None:
        """Write the clip's new takes' files and note its settings for the next `write()`."""
        folder = self.folder / state.clip_id
        for take in state.takes:
            if (state.clip_id, take.number) not in self._written:
                write_take(folder, state.ref, take.number, take.speech, state.track)
                self._written.add((state.clip_id, take.number))
        self._records[state.clip_id] = {
            "fingerprint": clip_fingerprint(state.ref),
            "style": style_record(state.style),
            "carried": {"line": state.carried_line, "character": state.carried_character},
            "takes": [
                {
                    "number": take.number,
                    "circled": take.circled,
                    "style": style_record(take.style),
                    "info": info_record(take.speech.take),
                    "notes": list(take.notes),
                    "files": list(take_files(take.number)),
                }
                for take in state.takes
            ],
        }

    def write(self) -> None:
        """Write the session file (atomically) with every clip's record."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {
            "format": FORMAT,
            "version": VERSION,
            "timeline": str(self.timeline),
            "clips": self._records,
            "cast": dict(sorted(self.cast.items())),
        }
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
