"""ADR in a dub: each clip's known line, its character and that character's cast voice, and
the dub's cue list.

- **Line** of a clip: its cues' lines from the cue sheet (`--cues`), else the line the
  timeline carries on the clip (`timeline/clip_lines.py`), else the line an earlier dub saved
  for it; none = words from the lips.
- **Character** of a clip: its cues' character, else its speaker label
  (`metadata["imagintalk"]["speaker"]`), else the one an earlier dub saved for it. The takes
  go on that character's dialogue track.
- **Cast**, for each character the first of: `--cast`, the cue sheet's Cast column, the cast
  the last dub into this output saved (its run record), the cast saved in the timeline's
  `metadata["imagintalk"]["cast"]` (a dubbed timeline dubbed again).

The dub saves what it used in the output timeline's `metadata["imagintalk"]`: `cast`
(`{character: "KIND:VALUE"}`), `characters` and `lines` (`{clip id: ...}`; clip ids are the
same in the output, whose picture tracks are the input's), and the cast in its run record too.

`plan_adr` reads and checks all of it before any work (one-line errors, nothing written);
`AdrPlan.resolve` then resolves each character's voice once, and `AdrVoices.settings` gives
each clip its settings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import opentimelineio as otio

from imagintalk_plugin.core.clips import ClipRef, PlacedAudio
from imagintalk_plugin.core.progress import Job
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.pipeline.casting import (
    CastSpec,
    CastVoice,
    cast_metadata,
    cast_settings,
    check_casts,
    merge_casts,
    one_per_character,
    parse_cast,
    resolve_cast,
    saved_casts,
)
from imagintalk_plugin.pipeline.dub_output import DubOutput
from imagintalk_plugin.pipeline.dub_report import ClipOutcome
from imagintalk_plugin.pipeline.speech import SpeechSettings
from imagintalk_plugin.pipeline.voice_bank import VoiceBank
from imagintalk_plugin.timeline.clip_lines import saved_entries
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.cues import (
    ClipCues,
    CueListRow,
    match_cues,
    read_cue_sheet,
    record_timecodes,
)
from imagintalk_plugin.timeline.placement import METADATA_KEY
from imagintalk_plugin.timeline.reading import LoadedTimeline


@dataclass(frozen=True, eq=False)
class AdrPlan:
    """A dub's lines, characters and casts, checked."""

    clips: dict[str, ClipRef]  # every dubbable clip of the timeline, by id
    cues: dict[str, ClipCues]  # clip id -> its cues
    lines: dict[str, str]  # clip id -> its line
    characters: dict[str, str]  # clip id -> its character
    casts: dict[str, CastSpec]  # character -> cast
    bank: VoiceBank | None = None

    def clip(self, clip: ClipRef) -> ClipRef:
        """The clip with its character as its speaker label (its takes' dialogue track)."""
        character = self.characters.get(clip.clip_id)
        return clip if character == clip.speaker else replace(clip, speaker=character)

    def resolve(self, clips: Sequence[ClipRef], cache: LipTrackCache | None) -> Job[AdrVoices]:
        """Job: the voices of the characters of `clips`, each resolved once."""
        wanted = {self.characters.get(c.clip_id) for c in clips}
        casts = {c: spec for c, spec in self.casts.items() if c in wanted}
        voices = yield from resolve_cast(casts, self.clips, self.bank, cache)
        return AdrVoices(self, voices)

    def save(self, timeline: otio.schema.Timeline) -> dict[str, str]:
        """Writes the cast, characters and lines into the timeline's `metadata["imagintalk"]`
        (those there are); returns the cast."""
        cast = cast_metadata(self.casts)
        saved = {"cast": cast, "characters": self.characters, "lines": self.lines}
        for key, value in saved.items():
            if value:
                if timeline.metadata.get(METADATA_KEY) is None:
                    timeline.metadata[METADATA_KEY] = {}
                timeline.metadata[METADATA_KEY][key] = dict(sorted(value.items()))
        return cast


@dataclass(frozen=True, eq=False)
class AdrVoices:
    """The plan with each cast character's voice resolved."""

    plan: AdrPlan
    voices: dict[str, CastVoice]

    def settings(self, clip: ClipRef, base: SpeechSettings) -> SpeechSettings:
        """`base` with the clip's line and its character's voice."""
        character = self.plan.characters.get(clip.clip_id)
        if character in self.voices:
            base = cast_settings(base, self.voices[character])
        line = self.plan.lines.get(clip.clip_id)
        return replace(base, line=line) if line else base


def plan_adr(
    loaded: LoadedTimeline,
    output: DubOutput,
    *,
    cues: Path | None = None,
    casts: Sequence[CastSpec] = (),
    bank: VoiceBank | None = None,
) -> AdrPlan:
    """Reads the cue sheet and the saved casts and checks everything against the timeline."""
    clips = {c.clip_id: c for c in list_clips(loaded)}
    matched = match_cues(cues, read_cue_sheet(cues), loaded, list(clips.values())) if cues else {}
    saved_lines, saved_characters = (
        _saved(loaded.timeline, "lines"),
        _saved(loaded.timeline, "characters"),
    )
    lines, characters = {}, {}
    for clip_id, clip in clips.items():
        own = matched.get(clip_id)
        line = own.line if own else clip.metadata.get("line") or saved_lines.get(clip_id)
        character = (
            (own.character if own else None) or clip.speaker or saved_characters.get(clip_id)
        )
        if line:
            lines[clip_id] = line
        if character and " ".join(character.split()):
            characters[clip_id] = " ".join(character.split())
    sheet = []
    for clip_cues in matched.values():
        for cue in clip_cues.cues:
            if cue.cast:
                origin = f"cue sheet {cues} row {cue.row}"
                character = characters.get(clip_cues.clip_id, "")
                base = Path(cues).resolve().parent if cues else None
                sheet.append(parse_cast(character, cue.cast, origin, base))
    merged = merge_casts(
        one_per_character(casts),
        one_per_character(sheet),
        saved_casts(output.saved_cast(), f"the cast saved for {output.timeline}"),
        saved_casts(_saved(loaded.timeline, "cast"), f"the cast saved in {loaded.path}"),
    )
    checked = check_casts(merged, characters.values(), clips, bank)
    return AdrPlan(clips, matched, lines, characters, checked, bank)


def _saved(timeline: otio.schema.Timeline, key: str) -> dict[str, str]:
    """What an earlier dub saved in the timeline's `metadata["imagintalk"][key]`."""
    return saved_entries(timeline, key)


def cue_list_rows(
    plan: AdrPlan,
    clips: Sequence[ClipRef],
    placements: Sequence[PlacedAudio],
    outcomes: Sequence[ClipOutcome],
    folder: Path,
) -> list[CueListRow]:
    """One row per take of each dubbed clip, in timeline order (a clip without a take gets
    one row saying why), its notes the cues' and the takes' (a line that barely fits); files
    relative to `folder`, the cue list's."""
    rows = []
    outcome_of = {o.clip_id: o for o in outcomes}
    for clip in clips:
        cues = plan.cues.get(clip.clip_id)
        outcome = outcome_of.get(clip.clip_id)
        notes = [cues.notes] if cues and cues.notes else []
        notes += outcome.notes if outcome else []
        tc_in, tc_out = record_timecodes(clip)
        base = CueListRow(
            cue=cues.cue if cues else clip.clip_id,
            character=plan.characters.get(clip.clip_id, ""),
            clip_id=clip.clip_id,
            tc_in=tc_in,
            tc_out=tc_out,
            line=plan.lines.get(clip.clip_id, ""),
            take=None,
            circled=False,
            file="",
            notes="; ".join(notes),
        )
        takes = sorted((p for p in placements if p.clip.clip_id == clip.clip_id), key=_take)
        for placed in takes:
            file = os.path.relpath(placed.audio_path, folder)
            rows.append(replace(base, take=placed.take, file=Path(file).as_posix()))
        if not takes:
            why = f"not dubbed: {(outcome.error if outcome else None) or 'no take'}"
            rows.append(replace(base, notes="; ".join([*notes, why])))
    return rows


def _take(placed: PlacedAudio) -> int:
    return placed.take
