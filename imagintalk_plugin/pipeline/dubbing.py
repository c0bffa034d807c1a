"""`imagintalk dub`: every dubbable clip of a timeline gets dialogue, placed frame-exact.

For each clip (and each take) the front-end reads the lips and face and `speak_tracks`
generates the speech: the steps of the clip job (`clip_job`) that `speak` and the panel's
worker run too, here with several clips' takes generated together. Each take is written as a
Broadcast WAV (48 kHz, 24-bit by default) spotted at the clip's record timecode into
`<output stem>_dialogue/`, with a JSON sidecar of its take record (`take_files`). The new
timeline is written last, with every finished take on `ImaginTalk Dialogue` track(s) and the
pictures' media rebased so they stay online, and beside it the ADR cue list
(`<output stem>_cues.csv`). ADR (`dub_adr`): a clip's known line (cue sheet or timeline), its
character, and that character's cast voice go into its settings.

- Checked first, once: the output (`dub_output`), then the timeline and its clips, then the
  model, device and backend: a bad one is one line, before any clip is worked on.
- Resume: rerunning the same command reuses every take whose record matches (same model
  content, seed, settings) and rewrites the timeline; `fresh` regenerates them. A take of other
  settings is never overwritten: the new one gets the next version's name.
- One run at a time per output (a lock); nothing half-written (temporary names, renamed into
  place); a cancel keeps every take already written, including those of the batch in flight.
- One clip failing (offline media, no face, unreadable video) is reported; the others finish.
- Batches: `batch_size` clips' takes are generated together; each take is written as soon as
  its clip is done; if a batch fails, its unfinished takes are retried one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from imagintalk_plugin.core.clips import ClipRef, PlacedAudio
from imagintalk_plugin.core.errors import (
    CancelledError,
    ImagintalkError,
    UnknownClipError,
    UsageError,
)
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.frontend.face_models import release_shared_face_models
from imagintalk_plugin.pipeline.casting import CastSpec
from imagintalk_plugin.pipeline.clip_job import read_clip, with_seed
from imagintalk_plugin.pipeline.dub_adr import cue_list_rows, plan_adr
from imagintalk_plugin.pipeline.dub_models import DubModels
from imagintalk_plugin.pipeline.dub_output import check_output, holding
from imagintalk_plugin.pipeline.dub_report import ClipOutcome, DubReport
from imagintalk_plugin.pipeline.speech import ClipSpeech, SpeechSettings, speak_tracks, take_info
from imagintalk_plugin.pipeline.take_files import find_slot, take_record, write_take
from imagintalk_plugin.pipeline.voice_bank import VoiceBank
from imagintalk_plugin.runtime.stages import Stages
from imagintalk_plugin.timeline.bwf import read_wav_info
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.cues import write_cue_list
from imagintalk_plugin.timeline.delivery import DELIVERY_RATE
from imagintalk_plugin.timeline.placement import place_dialogue
from imagintalk_plugin.timeline.reading import LoadedTimeline, read_timeline
from imagintalk_plugin.timeline.writing import write_timeline


@dataclass(frozen=True)
class DubRequest:
    """What to dub and how."""

    timeline: Path
    output: Path
    clips: tuple[str, ...] = ()  # clip ids; empty = every dubbable clip
    takes: int = 1
    seed: int = 0  # take k uses seed + k - 1
    settings: SpeechSettings = field(default_factory=SpeechSettings)
    force: bool = False  # fresh takes, and replace an output this project did not write
    batch_size: int = 1  # clips generated together (see `speak_tracks`)
    sample_rate: int | None = DELIVERY_RATE  # the takes' rate; None keeps the model's
    media_dirs: tuple[Path, ...] = ()  # folders to relink offline clips from
    cues: Path | None = None  # an ADR cue sheet: lines and characters per clip (`dub_adr`)
    cast: tuple[CastSpec, ...] = ()  # character -> voice (`casting`), before the saved casts
    voice_bank: VoiceBank | None = None  # the model's named voices, for `bank:NAME` casts

    def __post_init__(self) -> None:
        if self.takes < 1:
            raise UsageError(f"--takes must be at least 1, not {self.takes}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, not {self.batch_size}")


def select_clips(loaded: LoadedTimeline, wanted: tuple[str, ...]) -> list[ClipRef]:
    """The clips to dub: the named ones (in timeline order), or all."""
    clips = list_clips(loaded)
    if not wanted:
        return clips
    known = {c.clip_id for c in clips}
    for clip_id in wanted:
        if clip_id not in known:
            raise UnknownClipError(clip_id, sorted(known))
    return [c for c in clips if c.clip_id in wanted]


def dub_timeline(
    request: DubRequest,
    load: Callable[[], tuple[DubModels, Stages]],
    cache: LipTrackCache | None = None,
) -> Job[DubReport]:
    """Job: dub the timeline; `load` gives the models and stages (called once, up front, so a
    model, device or backend that cannot run fails once with its one-line error).

    Clips go `request.batch_size` at a time: their lips are read one by one, then all their
    takes are generated as one batch (`speak_tracks`), each written as soon as it is made.
    """
    timeline = Path(request.timeline)
    output = check_output(timeline, Path(request.output), request.force)
    loaded = read_timeline(timeline)
    notes: tuple[str, ...] = ()
    if request.media_dirs:
        from imagintalk_plugin.timeline.relink import relink_timeline

        loaded, relinked = relink_timeline(loaded, request.media_dirs)
        notes = (relinked.summary(),)
    clips = select_clips(loaded, request.clips)
    if not clips:
        raise UsageError(f"{timeline} has no dubbable clips")
    adr = plan_adr(loaded, output, cues=request.cues, casts=request.cast, bank=request.voice_bank)
    clips = [adr.clip(c) for c in clips]
    with holding(output):
        yield Progress("loading model", 0, 1)
        models = load()
        yield Progress("loading model", 1, 1)
        voices = yield from adr.resolve(clips, cache)
        settings = {c.clip_id: voices.settings(c, request.settings) for c in clips}
        run = _Run(request, output.media_dir, models, cache, len(clips), settings)
        outcomes, placements = [], []
        yield Progress("dub", 0, len(clips), unit="clip")
        for first in range(0, len(clips), request.batch_size):
            group = clips[first : first + request.batch_size]
            for outcome, placed in (yield from run.dub_group(group)):
                outcomes.append(outcome)
                placements.extend(placed)
        if not placements:
            return DubReport(None, outcomes, notes)
        dubbed = place_dialogue(loaded.timeline, placements)
        cast = adr.save(dubbed)
        write_timeline(dubbed, output.timeline, force=True)  # checked by check_output
        rows = cue_list_rows(adr, clips, placements, outcomes, output.cue_list.parent)
        write_cue_list(output.cue_list, rows)  # checked by check_output too
        output.remember_written(cast)
    return DubReport(output.timeline, outcomes, notes, output.cue_list)


@dataclass
class _Pending:
    """A take to generate: its clip, number, settings, where it goes and its record."""

    clip: ClipRef
    take: int
    settings: SpeechSettings
    wav: Path
    record: dict
    track: LipTrack | None = None
    written: bool = False


@dataclass
class _Run:
    """One dub run's shared state: the request, where takes go, the loaded models, and how many
    of the run's clips are finished (for the overall progress)."""

    request: DubRequest
    media_dir: Path
    loaded: tuple[DubModels, Stages]
    cache: LipTrackCache | None
    total: int
    settings: dict[str, SpeechSettings]  # clip id -> its settings (line, cast voice)
    finished: int = 0
    _steps: list[Progress] = field(default_factory=list)

    def _clip_finished(self, clip: ClipRef) -> None:
        self.finished += 1
        self._steps.append(Progress("dub", self.finished, self.total, clip.clip_id, unit="clip"))

    def _flush(self) -> Job[None]:
        while self._steps:
            yield self._steps.pop(0)

    def dub_group(self, clips: list[ClipRef]) -> Job[list[tuple[ClipOutcome, list[PlacedAudio]]]]:
        """Each clip's outcome and placements; one failing clip never stops the others."""
        outcomes = {c.clip_id: ClipOutcome(c.clip_id, c.name, "reused") for c in clips}
        placed: dict[str, list[PlacedAudio]] = {c.clip_id: [] for c in clips}
        pending: list[_Pending] = []
        for clip in clips:
            try:
                todo = yield from self._plan_clip(clip, placed[clip.clip_id])
            except (ImagintalkError, ValueError, RuntimeError, OSError) as err:
                _fail(outcomes[clip.clip_id], err)
                todo = []
            pending.extend(todo)
            if not todo:
                self._clip_finished(clip)
                yield from self._flush()
        if pending:  # the front-end is done for this group: about 100 MB less while generating
            release_shared_face_models()
        yield from self._generate(pending, outcomes, placed)
        results = []
        for clip in clips:
            outcome = outcomes[clip.clip_id]
            takes = [] if outcome.status == "failed" else placed[clip.clip_id]
            takes = sorted(takes, key=lambda p: p.take)
            outcome.files = [p.audio_path for p in takes]
            results.append((outcome, takes))
        return results

    def _plan_clip(self, clip: ClipRef, placed: list[PlacedAudio]) -> Job[list[_Pending]]:
        """Reuses the clip's finished takes into `placed`; returns the takes still to make,
        with the clip's LipTrack read once if any is."""
        request = self.request
        models, stages = self.loaded
        todo = []
        for take in range(1, request.takes + 1):
            seed = request.seed + take - 1
            settings = with_seed(self.settings.get(clip.clip_id, request.settings), seed)
            info = take_info(models, settings, stages.backend)
            record = take_record(clip, take, info, request.sample_rate)
            slot = find_slot(self.media_dir, clip, take, record, fresh=request.force)
            if slot.reusable:
                placed.append(_placement(clip, slot.wav, take, seed, models.name))
            else:
                todo.append(_Pending(clip, take, settings, slot.wav, record))
        if todo:
            track = yield from read_clip(clip, self.cache)
            for item in todo:
                item.track = track
        return todo

    def _generate(
        self,
        pending: list[_Pending],
        outcomes: dict[str, ClipOutcome],
        placed: dict[str, list[PlacedAudio]],
    ) -> Job[None]:
        """Generates the pending takes as one batch, writing each as soon as it is made; if the
        batch fails, its unwritten takes go one by one, so only the clip at fault fails."""
        if not pending:
            return
        models, stages = self.loaded

        def deliver(index: int, speech: ClipSpeech) -> None:
            item = pending[index]
            outcome = outcomes[item.clip.clip_id]
            try:
                written = write_take(
                    item.wav,
                    item.clip,
                    speech.waveform,
                    item.record,
                    model=models.name,
                    force=True,  # the slot is this take's (`find_slot`)
                )
                placed[item.clip.clip_id].append(written)
            except (ImagintalkError, ValueError, OSError) as err:
                _fail(outcome, err)
            item.written = True
            for note in getattr(speech, "notes", ()):  # e.g. a line that barely fits
                if note not in outcome.notes:
                    outcome.notes.append(note)
            if outcome.status != "failed":  # a clip with a failed take stays failed
                outcome.status = "done"
            if all(p.written for p in pending if p.clip is item.clip):
                self._clip_finished(item.clip)

        requests = [(item.track, item.settings) for item in pending]
        try:
            for step in speak_tracks(models, stages, requests, self.request.batch_size, deliver):
                yield step
                yield from self._flush()
        except (ImagintalkError, ValueError, RuntimeError, OSError) as err:
            if isinstance(err, CancelledError):
                raise
            unwritten = [item for item in pending if not item.written]
            if len(pending) == 1:
                _fail(outcomes[pending[0].clip.clip_id], err)
                pending[0].written = True
                self._clip_finished(pending[0].clip)
            else:
                for item in unwritten:
                    yield from self._generate([item], outcomes, placed)
        yield from self._flush()


def _fail(outcome: ClipOutcome, err: Exception) -> None:
    """Marks the clip failed (a cancel stops the whole run instead)."""
    if isinstance(err, CancelledError):
        raise err
    outcome.status = "failed"
    outcome.error = str(err) if isinstance(err, ImagintalkError) else f"{type(err).__name__}: {err}"
    outcome.files = []


def _placement(clip: ClipRef, wav: Path, take: int, seed: int, model: str) -> PlacedAudio:
    info = read_wav_info(wav)
    return PlacedAudio(
        clip, wav.resolve(), clip.record_range, info.sample_rate, take=take, seed=seed, model=model
    )
