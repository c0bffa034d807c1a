"""The panel's controller: a timeline's clips, their styles and takes, and placing them (no Qt).

Following napari and AYON's loader, the widgets (`imagintalk_plugin.ui`) only draw the state and
call these methods; observers are a plain callback list. The work for one clip is `clip_job`
(`take_job`, re-exported here), a plain generator around the pipeline's clip job that the Qt
worker drives on its own thread and tests drive directly. Pipeline modules that pull torch are
imported inside the functions that use them: the panel opens without loading a model. Every
announced change of a clip's takes or style, and of a character's cast (`adr`), is saved at
once in the timeline's session (`session_store`), which opening the timeline again reads back.
Nothing in `panel_model` imports Qt, the widgets or the models (an import contract keeps it so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.clips import PlacedAudio
from imagintalk_plugin.core.errors import ImagintalkError, MediaOfflineError, UsageError
from imagintalk_plugin.core.progress import Progress
from imagintalk_plugin.panel_model.adr import (
    OWN,
    Carried,
    check_cast,
    clean,
    opening_casts,
    voice_bank,
)
from imagintalk_plugin.panel_model.placing import place_takes
from imagintalk_plugin.panel_model.session_store import SessionStore
from imagintalk_plugin.panel_model.state import (
    DONE,
    FAILED,
    OFFLINE,
    PENDING,
    RUNNING,
    ClipRequest,
    ClipResult,
    ClipState,
    PanelEvent,
    StyleSettings,
    Take,
    clip_fraction,
)
from imagintalk_plugin.panel_model.take_job import clip_job, speech_settings, timbre_record
from imagintalk_plugin.pipeline.voice_bank import VoiceBank
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import LoadedTimeline, read_timeline
from imagintalk_plugin.timeline.relink import RelinkReport, relink_timeline
from imagintalk_plugin.timeline.report import clip_record

Observer = Callable[[PanelEvent], None]
__all__ = ["PanelController", "clip_job", "next_free_output", "speech_settings", "timbre_record"]


def next_free_output(folder: Path, stem: str, suffix: str = ".otio") -> Path:
    """`folder/<stem>_imagintalk.otio`, or `_2`, `_3`...: placing never overwrites a pass."""
    n = 1
    while True:
        name = f"{stem}_imagintalk" + (f"_{n}" if n > 1 else "")
        path = folder / f"{name}{suffix}"
        if not path.exists() and not (folder / f"{name}_dialogue").exists():
            return path
        n += 1


class PanelController:
    """The loaded timeline, per-clip status, style and takes; what the panel's buttons do."""

    def __init__(self, defaults: StyleSettings | None = None, keep_session: bool = True) -> None:
        self.defaults = defaults or StyleSettings()
        self.loaded: LoadedTimeline | None = None
        self.clips: dict[str, ClipState] = {}
        self._observers: list[Observer] = []
        self._queued: set[str] = set()
        self.last_placed: list[PlacedAudio] = []  # what the last `place` wrote (for hosts)
        self.keep_session = keep_session  # False: takes live only as long as the panel
        self.session: SessionStore | None = None
        self.session_notes: list[str] = []  # what reopening the session found, one line each
        self.session_error = ""  # why the last save failed ("" when it worked)
        self._held: set[str] | None = None  # clips whose save waits for a batch edit's end
        self.casts: dict[str, str] = {}  # character -> "KIND:VALUE" (`adr`), "own" included
        self.bank: VoiceBank | None = None  # the model's voice bank (`use_voice_bank`)

    # observers -------------------------------------------------------------------------
    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call `observer` on every change; returns the function that unsubscribes it."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer)

    def _emit(self, kind: str, clip_id: str | None = None) -> None:
        if kind in ("takes", "style") and clip_id is not None:
            self._save(clip_id)
        for observer in list(self._observers):
            observer(PanelEvent(kind, clip_id))

    def _save(self, *clip_ids: str, cast: bool = False) -> None:
        """Keep the clips' takes and settings (and the casts) in the session (one write of the
        session file); a failure is announced, not raised (the takes stay in the panel and the
        next change tries again). During a batch edit the clips are only noted, and saved at
        its end."""
        if self.session is None or not (clip_ids or cast):
            return
        self.session.cast = self.casts
        if self._held is not None:
            self._held.update(clip_ids)
            return
        try:
            for clip_id in clip_ids:
                self.session.record(self.clips[clip_id])
            self.session.write()
        except (OSError, ImagintalkError) as err:
            self.session_error = f"cannot save the session in {self.session.folder}: {err}"
            self._emit("session", clip_ids[0] if clip_ids else None)
        else:
            self.session_error = ""

    # timeline and clips ------------------------------------------------------------------
    def open_timeline(self, path: Path) -> None:
        """Read a timeline (any format `timeline inspect` reads), list its clips and give them
        their takes and settings saved in its session (see `session_notes`); the casts are the
        session's, else those saved in the timeline (`adr.opening_casts`)."""
        loaded = read_timeline(Path(path))
        clips = self._list(loaded)
        self.session = SessionStore.for_timeline(loaded.path) if self.keep_session else None
        self.session_notes = self.session.restore(clips) if self.session is not None else []
        self.session_error = ""
        characters = [c.style.character for c in clips.values() if c.style.character]
        self.casts, notes = opening_casts(
            self.session.cast if self.session is not None else {},
            Carried(loaded.timeline).cast,
            characters,
            {i: c.ref for i, c in clips.items()},
            self.bank,
        )
        self.session_notes += notes
        self._use(loaded, clips)

    def relink(self, media_dirs: Sequence[Path]) -> RelinkReport:
        """Look for the offline clips' media under `media_dirs` (`timeline.relink`); clips
        found come online, and every clip keeps its takes, settings and lips. Returns the
        report; `UsageError` while clips run or for a folder that is not there."""
        if self.loaded is None:
            raise UsageError("open a timeline first")
        if self.busy():
            raise UsageError("cancel the running clips before relinking media")
        loaded, report = relink_timeline(self.loaded, [Path(d) for d in media_dirs])
        clips = self._list(loaded)
        for clip_id, state in clips.items():
            old = self.clips.get(clip_id)
            if old is None or old.ref.name != state.ref.name:
                continue
            state.style, state.takes, state.track = old.style, old.takes, old.track
            if state.takes and state.status != OFFLINE:
                state.status, state.fraction = DONE, 1.0
        self._use(loaded, clips)
        return report

    def _list(self, loaded: LoadedTimeline) -> dict[str, ClipState]:
        clips, carried = {}, Carried(loaded.timeline)
        for ref in list_clips(loaded):
            line, character = carried.line(ref), carried.character(ref)
            style = replace(self.defaults, line=line, character=character)
            timecode = clip_record(loaded, ref)["record_start_timecode"]
            state = ClipState(ref, timecode, style, carried_line=line, carried_character=character)
            if ref.offline or not ref.media_path:
                state.status, state.error = OFFLINE, f"media offline: {ref.media_path or 'none'}"
            clips[ref.clip_id] = state
        return clips

    def _use(self, loaded: LoadedTimeline, clips: dict[str, ClipState]) -> None:
        self.loaded, self.clips = loaded, clips
        self._queued.clear()
        self._emit("timeline")

    def tracks(self) -> list[str]:
        """Names of the video tracks holding clips, in timeline order."""
        return list(dict.fromkeys(c.ref.track_name for c in self.clips.values()))

    def clip_ids(self, track: str | None = None) -> list[str]:
        """Clip ids in timeline order, optionally only those of one track."""
        return [i for i, c in self.clips.items() if track is None or c.ref.track_name == track]

    def clip(self, clip_id: str) -> ClipState:
        """One clip's state."""
        return self.clips[clip_id]

    def set_style(self, clip_ids: Iterable[str], **changes: Any) -> None:
        """Change style settings of some clips (for their next take).

        A timbre source is checked first: `timbre_clip` must be an online clip of the
        timeline and `reference_audio` a usable WAV (`check_reference_audio`); otherwise a
        one-line `ImagintalkError` and nothing changes. Setting one clears the other. A
        `line` or `character` is kept with its whitespace collapsed (blank: None).
        """
        for name in ("line", "character"):
            if name in changes:
                changes[name] = clean(changes[name])
        if changes.get("timbre_clip") is not None:
            self._check_timbre_clip(str(changes["timbre_clip"]))
            changes.setdefault("reference_audio", None)
        if changes.get("reference_audio") is not None:
            from imagintalk_plugin.pipeline.voice_overrides_io import check_reference_audio

            changes["reference_audio"] = Path(changes["reference_audio"])
            check_reference_audio(changes["reference_audio"])  # header only: quick
            changes.setdefault("timbre_clip", None)
        self._held = set()  # one session write for the whole edit, however many clips
        try:
            for clip_id in clip_ids:
                state = self.clips[clip_id]
                state.style = replace(state.style, **changes)
                self._emit("style", clip_id)
        finally:
            held, self._held = self._held, None
            self._save(*sorted(held))

    def _check_timbre_clip(self, clip_id: str) -> None:
        state = self.clips.get(clip_id)
        if state is None:
            raise UsageError(f"clip '{clip_id}' is not on the timeline")
        if state.status == OFFLINE:
            raise MediaOfflineError(state.ref.name, state.ref.media_path)

    def set_line(self, clip_id: str, line: str | None) -> None:
        """The clip's known line for its next takes (blank: the words read from the lips)."""
        self.set_style([clip_id], line=line)

    # casting -----------------------------------------------------------------------------
    def characters(self) -> list[str]:
        """The clips' characters, sorted."""
        return sorted({c.style.character for c in self.clips.values() if c.style.character})

    def cast_of(self, character: str | None) -> str | None:
        """The character's cast voice ("face:V1-002", "voice:/a.wav", "bank:NAME"); None when
        its clips take their own timbre (no cast, or cast `own`)."""
        cast = self.casts.get(character or "")
        return None if cast in (None, OWN) else cast

    def set_cast(self, character: str, cast: str | None) -> None:
        """Cast `character` (`face:CLIP_ID`, `voice:WAV`, `bank:NAME`; None or `own`: each clip
        its own timbre) for every clip of it; checked as `dub --cast` is (a one-line
        `ImagintalkError`, nothing changed). Saved in the session and announced (`cast`)."""
        name = clean(character)
        if name is None:
            raise UsageError("give the clip a character before casting it")
        if cast is None or clean(cast) in (None, OWN):
            text = OWN
        else:
            refs = {i: c.ref for i, c in self.clips.items()}
            text = check_cast(name, str(cast), self.characters(), refs, self.bank)
        self.casts[name] = text
        self._save(cast=True)
        self._emit("cast")

    def use_voice_bank(self, model: Path) -> list[str]:
        """Read the model folder's voice bank (what `bank:NAME` casts name); returns its
        voices' names (`UsageError` when its bank file is unreadable)."""
        self.bank, why = voice_bank(model)
        if self.bank is None:
            raise UsageError(why)
        return sorted(self.bank.voices)

    def face_sources(self) -> list[str]:
        """Clips whose face may lend its timbre: the online ones, in timeline order."""
        return [i for i, c in self.clips.items() if c.status != OFFLINE]

    # running -------------------------------------------------------------------------------
    def request(self, clip_id: str, regenerate: bool = False) -> ClipRequest | None:
        """The work for a clip's next take, or None when there is none to do.

        Offline, queued and running clips are skipped, and so are clips with a take unless
        `regenerate`. A regenerated take gets a seed no take of the clip used, unless the
        seed is locked.
        """
        state = self.clips[clip_id]
        if state.status in (OFFLINE, RUNNING) or clip_id in self._queued:
            return None
        if state.takes and not regenerate:
            return None
        used = {t.style.seed for t in state.takes}
        if used and state.style.seed in used and not state.style.seed_locked:
            state.style = replace(state.style, seed=max(used) + 1)
            self._emit("style", clip_id)
        self._queued.add(clip_id)
        state.stage, state.fraction = "queued", 0.0
        self._emit("clip", clip_id)
        other = self.clips.get(state.style.timbre_clip or "")
        cast = self.cast_of(state.style.character)
        kind, _, value = (cast or "").partition(":")
        face = self.clips.get(value) if kind == "face" else None
        return ClipRequest(
            state.ref,
            state.style,
            max((t.number for t in state.takes), default=0) + 1,  # numbers may have gaps
            state.track,
            timbre_clip=other.ref if other is not None else None,
            timbre_track=other.track if other is not None else None,
            cast=cast,
            cast_clip=face.ref if face is not None else None,
            cast_track=face.track if face is not None else None,
        )

    def started(self, clip_id: str) -> None:
        """The worker began the clip."""
        state = self.clips[clip_id]
        state.status, state.error, state.stage, state.fraction = RUNNING, "", "starting", 0.0
        self._emit("clip", clip_id)

    def progressed(self, step: Progress) -> None:
        """A step of a running clip's job."""
        state = self.clips.get(step.clip_id or "")
        if state is None:
            return
        state.stage, state.fraction = step.stage, clip_fraction(step)
        self._emit("progress", state.clip_id)

    def finished(self, result: ClipResult) -> Take:
        """A take arrived: keep it (older takes stay) and the lips it was made from."""
        state = self.clips[result.clip_id]
        take = Take(result.take, result.speech, result.style)
        state.takes.append(take)
        state.track = result.track
        state.status, state.stage, state.fraction = DONE, "", 1.0
        self._queued.discard(result.clip_id)
        self._emit("clip", result.clip_id)
        self._emit("takes", result.clip_id)
        return take

    def failed(self, clip_id: str, reason: str) -> None:
        """The clip's job failed; its earlier takes stay."""
        state = self.clips[clip_id]
        state.status, state.error, state.stage, state.fraction = FAILED, reason, "", 0.0
        self._queued.discard(clip_id)
        self._emit("clip", clip_id)

    def unqueued(self, clip_ids: Iterable[str], reason: str = "") -> None:
        """Clips that were queued or running but did not run (cancel, model error)."""
        for clip_id in clip_ids:
            state = self.clips[clip_id]
            self._queued.discard(clip_id)
            state.status = DONE if state.takes else PENDING
            state.error, state.stage, state.fraction = reason, "", 0.0
            self._emit("clip", clip_id)

    def busy(self) -> bool:
        """Whether any clip is queued or running."""
        return bool(self._queued)

    # takes -----------------------------------------------------------------------------
    def circle(self, clip_id: str, number: int) -> None:
        """Circle take `number` of a clip (the one placed); circling it again uncircles it."""
        state = self.clips[clip_id]
        if not any(t.number == number for t in state.takes):
            raise UsageError(f"clip '{clip_id}' has no take {number}")
        for take in state.takes:
            take.circled = take.number == number and not take.circled
        self._emit("takes", clip_id)

    def place(self, output: Path, force: bool = False) -> str:
        """Write each clip's circled (else latest) take and a new timeline with them placed.

        The takes go as Broadcast WAVs spotted at their record timecode (with the same
        `.take.json` sidecars as `imagintalk dub`) into `<output stem>_dialogue/`; the new
        timeline has them on `ImaginTalk Dialogue` track(s), one per character, and keeps the
        clips' lines and characters and the casts in its `metadata["imagintalk"]` as `dub`
        does. Returns a summary; the placements are kept in `last_placed` (a linked host
        places the same takes).
        """
        self.last_placed = []
        if self.loaded is None:
            raise UsageError("open a timeline first")
        chosen = [(s, t) for s in self.clips.values() if (t := s.chosen_take()) is not None]
        if not chosen:
            raise UsageError("no takes to place yet: run some clips first")
        adr = {
            "lines": {i: c.style.line for i, c in self.clips.items() if c.style.line},
            "characters": {
                i: c.style.character for i, c in self.clips.items() if c.style.character
            },
            "casts": self.casts,
        }
        summary, self.last_placed = place_takes(self.loaded, chosen, Path(output), force, **adr)
        left = len(self.clips) - len(chosen)
        tail = [f"  {left} clip(s) without a take left out"] if left else []
        return "\n".join([summary, *tail])
