"""Casting: each character gets one voice, and every clip of that character speaks in it.

Without a cast each clip takes its voice from its own face, so one actor can change voice
from shot to shot. A cast is `KIND:VALUE`:

- `face:CLIP_ID`: the face identity of that clip of the timeline (read by the front-end,
  through the LipTrack cache), as `--face VIDEO` does for a video file;
- `voice:WAV`: a reference recording's Resemblyzer embedding, as `--voice WAV`;
- `bank:NAME`: a named voice of the model's voice bank (`voice_bank`);
- `own`: each clip's own face, today's default (undoes a saved cast).

`dub_adr` gathers the casts (`--cast`, the cue sheet's Cast column, the saved ones), checks
them before any work (`check_casts`), and resolves each character's voice once per dub
(`resolve_cast`). A cast clip's take records `source: cast`, its character and its cast in
`settings.timbre` (with what identifies the voice: the face clip's media and range, the
recording's or the bank voice's digest), so a take is reused only for the same voice.

The panel casts through the same functions (`parse_cast`, `check_casts` on the GUI thread,
`resolve_cast` in its worker): this module loads no model code until `resolve_cast` runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.errors import ImagintalkError, UsageError
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.pipeline.voice_bank import VoiceBank
from imagintalk_plugin.pipeline.voice_overrides_io import (
    check_reference_audio,
    reference_voice_embedding,
)

if TYPE_CHECKING:
    from imagintalk_plugin.pipeline.speech import SpeechSettings

CAST_KINDS = ("face", "voice", "bank", "own")


@dataclass(frozen=True)
class CastSpec:
    """One character's cast, and where it was given (for errors: `--cast ...`, `cue sheet
    CUES.csv row 4`, `the cast saved in ...`)."""

    character: str
    kind: str  # one of CAST_KINDS
    value: str = ""  # clip id, absolute WAV path, bank name; "" for `own`
    origin: str = "--cast"
    saved: bool = False  # from an earlier dub: dropped, not an error, when its character is gone

    @property
    def text(self) -> str:
        """`KIND:VALUE` as written on the command line and saved in the timeline."""
        return f"{self.kind}:{self.value}" if self.value else self.kind


@dataclass(frozen=True, eq=False)
class CastVoice:
    """A character's resolved voice: what replaces each clip's own face, and the record."""

    spec: CastSpec
    face: np.ndarray | None
    reference_voice: np.ndarray | None
    record: tuple[tuple[str, str], ...]


def parse_cast(
    character: str, text: str, origin: str, base: Path | None = None, saved: bool = False
) -> CastSpec:
    """`KIND:VALUE` for `character`; a `voice:` path is made absolute against `base` (the
    current folder by default). A bad one is a one-line `UsageError` starting with `origin`."""
    character = " ".join(character.split())
    if not character:
        raise UsageError(f"{origin}: a cast needs a character")
    kind, _, value = text.strip().partition(":")
    kind, value = kind.strip().lower(), value.strip()
    if kind not in CAST_KINDS:
        raise UsageError(
            f"{origin}: cast '{text}' is not face:CLIP_ID, voice:WAV, bank:NAME or own"
        )
    if (kind == "own") != (not value):
        need = "nothing after 'own'" if kind == "own" else f"a value after '{kind}:'"
        raise UsageError(f"{origin}: cast '{text}' needs {need}")
    if kind == "voice":
        value = str(((base or Path.cwd()) / Path(value).expanduser()).resolve())
    return CastSpec(character, kind, value, origin, saved)


def parse_cast_option(text: str) -> CastSpec:
    """`--cast CHARACTER=KIND:VALUE`."""
    character, equals, spec = text.partition("=")
    if not equals:
        raise UsageError(f"--cast {text}: write CHARACTER=face:CLIP_ID, =voice:WAV or =bank:NAME")
    return parse_cast(character, spec, f"--cast {text}")


def saved_casts(saved: object, origin: str) -> list[CastSpec]:
    """The casts an earlier dub saved (`{character: "KIND:VALUE"}`); none when absent."""
    if not isinstance(saved, Mapping):
        return []
    return [parse_cast(str(c), str(t), origin, saved=True) for c, t in saved.items()]


def one_per_character(specs: Iterable[CastSpec]) -> list[CastSpec]:
    """The casts of one source, one per character: a character cast twice differently is an
    error naming the second place."""
    first: dict[str, CastSpec] = {}
    for spec in specs:
        seen = first.setdefault(spec.character, spec)
        if seen.text != spec.text:
            raise UsageError(
                f"{spec.origin}: {spec.character} is cast as {spec.text} here but as "
                f"{seen.text} in {seen.origin}"
            )
    return list(first.values())


def merge_casts(*sources: Iterable[CastSpec]) -> dict[str, CastSpec]:
    """Character -> cast; for each character the first source that casts it wins."""
    merged: dict[str, CastSpec] = {}
    for source in sources:
        for spec in source:
            merged.setdefault(spec.character, spec)
    return merged


def check_casts(
    casts: Mapping[str, CastSpec],
    characters: Iterable[str],
    clips: Mapping[str, ClipRef],
    bank: VoiceBank | None,
) -> dict[str, CastSpec]:
    """The casts that apply, checked before any work: a cast of a character no clip has, an
    unknown or offline face clip, an unusable recording, a name not in the bank: one line,
    starting with where the cast was given. Saved casts of characters gone are dropped."""
    known = sorted(set(characters))
    checked = {}
    for character, spec in casts.items():
        if character not in known:
            if spec.saved:
                continue
            shown = ", ".join(known) or "none: give clips a character in the cue sheet"
            raise UsageError(f"{spec.origin}: no clip of character '{character}' ({shown})")
        if spec.kind == "face":
            clip = clips.get(spec.value)
            if clip is None:
                raise UsageError(f"{spec.origin}: no clip '{spec.value}' on the timeline")
            if clip.offline:
                raise UsageError(f"{spec.origin}: clip {spec.value} is offline ({clip.media_path})")
        elif spec.kind == "voice":
            try:
                check_reference_audio(spec.value)
            except ImagintalkError as err:
                raise UsageError(f"{spec.origin}: {err}") from None
        elif spec.kind == "bank":
            if bank is None:
                raise UsageError(f"{spec.origin}: this model has no voice bank")
            bank.voice(spec.value, spec.origin)
        checked[character] = spec
    return checked


def resolve_cast(
    casts: Mapping[str, CastSpec],
    clips: Mapping[str, ClipRef],
    bank: VoiceBank | None,
    cache: LipTrackCache | None = None,
    tracks: Mapping[str, LipTrack] | None = None,
) -> Job[dict[str, CastVoice]]:
    """Job: each cast character's voice, resolved once (`own` casts need none); a face clip
    whose lips and face are in `tracks` (clip id -> LipTrack) is not read again."""
    from imagintalk_plugin.pipeline.clip_job import TimbreSource, resolve_timbre

    voices = {}
    for character, spec in casts.items():
        record: list[tuple[str, str]] = [
            ("source", "cast"), ("character", character), ("cast", spec.text),
        ]  # fmt: skip
        if spec.kind == "own":
            continue
        face = voice = None
        yield Progress("cast", 0, 1, message=f"{character}: {spec.text}")
        if spec.kind == "face":
            clip = clips[spec.value]
            known = (tracks or {}).get(clip.clip_id)
            timbre = TimbreSource(face_clip=clip, face_track=known)
            face, _ = yield from resolve_timbre(clip.clip_id, timbre, cache)
            source = clip.source_range
            span = f"{source.start_time.value:g}+{source.duration.value:g}@{source.duration.rate:g}"
            record += [("media", str(clip.media_path)), ("range", span)]
        elif spec.kind == "voice":
            voice = reference_voice_embedding(spec.value)
            record.append(("sha256", _file_digest(Path(spec.value))))
        else:
            assert bank is not None  # check_casts
            voice = bank.voice(spec.value, spec.origin).embedding
            record.append(("sha256", hashlib.sha256(voice.tobytes()).hexdigest()[:16]))
        voices[character] = CastVoice(spec, face, voice, tuple(record))
        yield Progress("cast", 1, 1, message=f"{character}: {spec.text}")
    return voices


def cast_settings(settings: SpeechSettings, voice: CastVoice) -> SpeechSettings:
    """A clip's settings spoken in its character's voice (replacing any --voice / --face)."""
    overrides = replace(settings.overrides, face=voice.face, reference_voice=voice.reference_voice)
    return replace(settings, overrides=overrides, timbre=voice.record)


def cast_metadata(casts: Mapping[str, CastSpec]) -> dict[str, str]:
    """What a dub saves: `{character: "KIND:VALUE"}`, in character order."""
    return {character: casts[character].text for character in sorted(casts)}


def _file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:16]
