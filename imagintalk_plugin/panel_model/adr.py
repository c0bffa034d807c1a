"""ADR in the panel: each clip's known line and character, and each character's cast (no Qt).

- **Line and character of a clip** start as the timeline carries them (`carried`), as `dub`
  reads them: the line from the clip's metadata or `line:` markers (`timeline/clip_lines.py`),
  else the line an earlier dub or Place saved in the timeline's `metadata["imagintalk"]`; the
  character from the clip's speaker label, else the saved one. The editor changes them in the
  panel (a clip's style: `StyleSettings.line`, `.character`) and the session keeps them.
- **Casts** are `{character: "KIND:VALUE"}` as `dub --cast` writes them (`face:CLIP_ID`,
  `voice:WAV`, `bank:NAME`, `own`): the saved session's, else the timeline's own (a dubbed or
  placed timeline). They are parsed and checked by the pipeline's casting
  (`pipeline/casting.py`), and the worker resolves a clip's cast voice with it too
  (`cast_job`), so a panel take and a dub take of one character get the same timbre record.
- **Place** writes the lines, characters and cast into the new timeline's
  `metadata["imagintalk"]` with the dub's own writer (`save_adr`), so `dub` and the panel read
  each other's casts.

The pipeline modules used here load no model code at import (`casting` imports its resolution
only when it runs), so the panel still opens without torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import opentimelineio as otio

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.errors import ImagintalkError, UsageError
from imagintalk_plugin.core.progress import Job
from imagintalk_plugin.panel_model.state import ClipRequest
from imagintalk_plugin.pipeline.casting import check_casts, parse_cast
from imagintalk_plugin.pipeline.voice_bank import VoiceBank, read_voice_bank
from imagintalk_plugin.timeline.clip_lines import saved_entries

OWN = "own"


def origin(character: str) -> str:
    """How a cast's one-line errors start: `cast of ALICE: ...`."""
    return f"cast of {' '.join(str(character).split())}"


def clean(text: object) -> str | None:
    """Text with its whitespace collapsed; None when blank (or None)."""
    if text is None:
        return None
    words = " ".join(str(text).split())
    return words or None


class Carried:
    """What a timeline carries for ADR: its clips' lines and characters, and its cast."""

    def __init__(self, timeline: otio.schema.Timeline) -> None:
        self.lines = saved_entries(timeline, "lines")
        self.characters = saved_entries(timeline, "characters")
        self.cast = saved_entries(timeline, "cast")

    def line(self, ref: ClipRef) -> str | None:
        """The clip's line: its metadata or markers (`ClipRef.metadata`), else the saved one."""
        return clean(ref.metadata.get("line")) or clean(self.lines.get(ref.clip_id))

    def character(self, ref: ClipRef) -> str | None:
        """The clip's character: its speaker label, else the saved one."""
        return clean(ref.speaker) or clean(self.characters.get(ref.clip_id))


def check_cast(
    character: str,
    text: str,
    characters: Iterable[str],
    clips: Mapping[str, ClipRef],
    bank: VoiceBank | None,
) -> str:
    """`text` as a cast of `character`, checked as `dub` checks `--cast` (an unknown or offline
    face clip, an unusable recording, a name not in the bank); returns it as saved
    (`KIND:VALUE`, a recording's path absolute). A bad one is a one-line `UsageError`."""
    spec = parse_cast(character, text, origin(character))
    check_casts({spec.character: spec}, characters, clips, bank)
    return spec.text


def opening_casts(
    saved: Mapping[str, str],
    carried: Mapping[str, str],
    characters: Iterable[str],
    clips: Mapping[str, ClipRef],
    bank: VoiceBank | None,
) -> tuple[dict[str, str], list[str]]:
    """The casts a timeline opens with: the session's (`saved`), else the timeline's own
    (`carried`); with one note each for those that do not check out now (kept all the same:
    a clip of that character fails with the reason when it runs)."""
    casts, notes = {}, []
    known = sorted(set(characters))
    for character, text in (dict(carried) | dict(saved)).items():
        try:
            spec = parse_cast(character, text, origin(character))
        except UsageError as err:
            notes.append(f"{err}; dropped")
            continue
        casts[spec.character] = spec.text
        if spec.kind == "own" or spec.character not in known:
            continue
        try:
            check_casts({spec.character: spec}, known, clips, bank)
        except ImagintalkError as err:
            notes.append(str(err))
    return casts, notes


def voice_bank(model: Path) -> tuple[VoiceBank | None, str]:
    """The model folder's voice bank (empty when it has none) and ""; (None, why) when its
    bank file cannot be read."""
    try:
        return read_voice_bank(Path(model)), ""
    except ImagintalkError as err:
        return None, str(err)


def cast_job(request: ClipRequest, settings: Any, models: Any, cache: Any = None) -> Job[Any]:
    """Job (worker side): `settings` spoken in the request's cast voice, resolved by the
    pipeline's casting (`resolve_cast`, `cast_settings`) as `dub` resolves it; the settings
    as they are for an `own` cast. The steps of reading a face cast's clip count as the
    running clip's."""
    from imagintalk_plugin.pipeline.casting import cast_settings, resolve_cast

    character = request.style.character or ""
    spec = parse_cast(character, request.cast or OWN, origin(character))
    clips, tracks = {}, {}
    if request.cast_clip is not None:
        clips[request.cast_clip.clip_id] = request.cast_clip
        if request.cast_track is not None:
            tracks[request.cast_clip.clip_id] = request.cast_track
    if spec.kind == "face" and spec.value not in clips:
        raise UsageError(f"{spec.origin}: no clip '{spec.value}' on the timeline")
    bank = read_voice_bank(models.folder) if spec.kind == "bank" else None
    steps = resolve_cast({spec.character: spec}, clips, bank, cache, tracks)
    try:
        while True:
            yield replace(next(steps), clip_id=request.clip.clip_id)
    except StopIteration as done:
        voices = done.value
    voice = voices.get(spec.character)
    return settings if voice is None else cast_settings(settings, voice)


def save_adr(
    timeline: otio.schema.Timeline,
    lines: Mapping[str, str],
    characters: Mapping[str, str],
    casts: Mapping[str, str],
) -> None:
    """Write the lines and characters (by clip id) and the casts into the timeline's
    `metadata["imagintalk"]`, with the dub's own writer (`AdrPlan.save`), so a later dub or
    panel reads them back."""
    from imagintalk_plugin.pipeline.dub_adr import AdrPlan

    specs = {c: parse_cast(c, text, origin(c)) for c, text in casts.items()}
    AdrPlan({}, {}, dict(lines), dict(characters), specs).save(timeline)
