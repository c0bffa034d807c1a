"""`imagintalk dub`: every dubbable clip of a timeline gets dialogue, placed frame-exact.

For each clip (and each take) the front-end reads the lips and face, `speak_track` generates
the speech, and the take is written as a Broadcast WAV spotted at the clip's record timecode
into `<output stem>_dialogue/`, with a JSON sidecar of its take metadata. The new timeline is
written last, with every finished take on `ImaginTalk Dialogue` track(s).

- Resume: a take whose WAV and sidecar exist with the same model, seed and settings is reused,
  so a rerun after Ctrl-C continues from the clips already done. A take made with other
  settings is not overwritten without `force`.
- Nothing half-written: every file is written to a temporary name and renamed into place.
- One clip failing (offline media, no face, unreadable video) is reported; the others finish.
- Batches: `batch_size` clips' takes are generated together; if such a batch fails, its takes
  are retried one by one, so only the clip at fault fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.clips import ClipRef, PlacedAudio
from imagintalk_plugin.core.errors import (
    CancelledError,
    ImagintalkError,
    OutputExistsError,
    UnknownClipError,
    UsageError,
)
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import LipTrack, Waveform
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.frontend.prepare import prepare_clip
from imagintalk_plugin.pipeline.dub_models import DubModels
from imagintalk_plugin.pipeline.speech import (
    ClipSpeech,
    SpeechSettings,
    TakeInfo,
    speak_tracks,
    take_info,
)
from imagintalk_plugin.runtime.stages import Stages
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.placement import place_dialogue, safe_name, write_placed_audio
from imagintalk_plugin.timeline.reading import LoadedTimeline, read_timeline
from imagintalk_plugin.timeline.writing import output_adapter, write_timeline


@dataclass(frozen=True)
class DubRequest:
    """What to dub and how."""

    timeline: Path
    output: Path
    clips: tuple[str, ...] = ()  # clip ids; empty = every dubbable clip
    takes: int = 1
    seed: int = 0  # take k uses seed + k - 1
    settings: SpeechSettings = field(default_factory=SpeechSettings)
    force: bool = False
    batch_size: int = 1  # clips generated together (see `speak_tracks`)

    def __post_init__(self) -> None:
        if self.takes < 1:
            raise UsageError(f"--takes must be at least 1, not {self.takes}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, not {self.batch_size}")


@dataclass
class ClipOutcome:
    """What happened to one clip."""

    clip_id: str
    name: str
    status: str  # done / reused / failed
    files: list[Path] = field(default_factory=list)
    error: str | None = None


@dataclass
class DubReport:
    """The run's result: per-clip outcomes and the timeline written."""

    output: Path | None
    outcomes: list[ClipOutcome]

    @property
    def failed(self) -> list[ClipOutcome]:
        """Clips that got no dialogue."""
        return [o for o in self.outcomes if o.status == "failed"]

    def summary(self) -> str:
        """Human lines for the terminal."""
        done = len(self.outcomes) - len(self.failed)
        lines = [f"{done} of {len(self.outcomes)} clip(s) dubbed"]
        if self.output is not None:
            lines[0] += f"; wrote {self.output}"
        for o in self.outcomes:
            detail = o.error if o.error else ", ".join(p.name for p in o.files)
            lines.append(f"  {o.clip_id:8s} {o.status:7s} {o.name}: {detail}")
        return "\n".join(lines)


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


def take_path(media_dir: Path, clip: ClipRef, take: int) -> Path:
    """Where take `take` of `clip` is written."""
    return media_dir / f"{clip.clip_id}_{safe_name(clip.name)}_take{take}.wav"


def _sidecar(wav: Path) -> Path:
    return wav.with_suffix(".take.json")


def _reusable(wav: Path, info: dict, force: bool) -> bool:
    """True when `wav` holds this exact take; refuses to overwrite a different one."""
    sidecar = _sidecar(wav)
    if not wav.exists():
        return False
    if sidecar.exists():
        try:
            if json.loads(sidecar.read_text()) == info:
                return True
        except ValueError:
            pass
    if not force:
        raise OutputExistsError(wav)
    return False


def take_record(clip: ClipRef, take: int, info: TakeInfo) -> dict:
    """JSON-ready metadata of one take, compared on resume."""
    return {"clip_id": clip.clip_id, "take": take, **asdict(info)}


def fit_to_clip(samples: np.ndarray, clip: ClipRef, sample_rate: int) -> np.ndarray:
    """Audio cut or padded with silence to the clip's record duration."""
    length = round(clip.record_range.duration.to_seconds() * sample_rate)
    return np.pad(samples, (0, max(0, length - len(samples))))[:length]


def dub_timeline(
    request: DubRequest,
    load: Callable[[], tuple[DubModels, Stages]],
    cache: LipTrackCache | None = None,
) -> Job[DubReport]:
    """Job: dub the timeline; `load` gives the models and stages (called once, when needed).

    Clips go `request.batch_size` at a time: their lips are read one by one, then all their
    takes are generated as one batch (`speak_tracks`) and written before the next clips start,
    so a cancel loses at most the clips of the batch in flight.
    """
    timeline, output = Path(request.timeline), Path(request.output)
    if output.resolve() == timeline.resolve():
        raise UsageError(f"output '{output}' is the input timeline; it is never overwritten")
    output_adapter(output, force=request.force)
    loaded = read_timeline(timeline)
    clips = select_clips(loaded, request.clips)
    if not clips:
        raise UsageError(f"{timeline} has no dubbable clips")
    media_dir = output.parent / f"{output.stem}_dialogue"
    media_dir.mkdir(parents=True, exist_ok=True)
    run = _Run(request, media_dir, load, cache, len(clips))
    outcomes, placements = [], []
    for first in range(0, len(clips), request.batch_size):
        group = clips[first : first + request.batch_size]
        done = yield from run.dub_group(group, first)
        for outcome, placed in done:
            outcomes.append(outcome)
            placements.extend(placed)
    yield Progress("dub", len(clips), len(clips), unit="clip")
    if not placements:
        return DubReport(None, outcomes)
    write_timeline(place_dialogue(loaded.timeline, placements), output, force=request.force)
    return DubReport(output, outcomes)


@dataclass
class _Pending:
    """A take to generate: its clip, number, settings, where it goes and its record."""

    clip: ClipRef
    take: int
    settings: SpeechSettings
    wav: Path
    record: dict
    track: LipTrack | None = None


@dataclass
class _Run:
    """One dub run's shared state: the request, where takes go, the models once loaded."""

    request: DubRequest
    media_dir: Path
    load: Callable[[], tuple[DubModels, Stages]]
    cache: LipTrackCache | None
    total: int
    loaded: list[tuple[DubModels, Stages]] = field(default_factory=list)

    def models(self) -> tuple[DubModels, Stages]:
        if not self.loaded:
            self.loaded.append(self.load())
        return self.loaded[0]

    def dub_group(
        self, clips: list[ClipRef], first: int
    ) -> Job[list[tuple[ClipOutcome, list[PlacedAudio]]]]:
        """Each clip's outcome and placements; one failing clip never stops the others."""
        outcomes = {c.clip_id: ClipOutcome(c.clip_id, c.name, "reused") for c in clips}
        placed: dict[str, list[PlacedAudio]] = {c.clip_id: [] for c in clips}
        pending: list[_Pending] = []
        for index, clip in enumerate(clips, start=first):
            yield Progress("dub", index, self.total, clip.clip_id, clip.name, unit="clip")
            try:
                todo = yield from self._plan_clip(clip, placed[clip.clip_id])
            except (ImagintalkError, ValueError, RuntimeError, OSError) as err:
                _fail(outcomes[clip.clip_id], err)
                continue
            pending.extend(todo)
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
        models, stages = self.models()
        todo = []
        for take in range(1, request.takes + 1):
            seed = request.seed + take - 1
            overrides = replace(request.settings.overrides, seed=seed)
            settings = replace(request.settings, overrides=overrides)
            info = take_info(models, settings, stages.backend)
            record = take_record(clip, take, info)
            wav = take_path(self.media_dir, clip, take)
            if _reusable(wav, record, request.force):
                placed.append(_placement(clip, wav, take, seed, models.name))
            else:
                todo.append(_Pending(clip, take, settings, wav, record))
        if todo:
            prepared = yield from prepare_clip(clip, cache=self.cache)
            for item in todo:
                item.track = prepared.track
        return todo

    def _generate(
        self,
        pending: list[_Pending],
        outcomes: dict[str, ClipOutcome],
        placed: dict[str, list[PlacedAudio]],
    ) -> Job[None]:
        """Generates and writes the pending takes as one batch; if the batch fails, take by
        take, so only the clip at fault fails."""
        if not pending:
            return
        models, stages = self.models()
        requests = [(item.track, item.settings) for item in pending]
        try:
            speeches = yield from speak_tracks(models, stages, requests, self.request.batch_size)
        except (ImagintalkError, ValueError, RuntimeError, OSError) as err:
            _fatal(err)
            if len(pending) == 1:
                _fail(outcomes[pending[0].clip.clip_id], err)
            else:
                for item in pending:
                    yield from self._generate([item], outcomes, placed)
            return
        for item, speech in zip(pending, speeches, strict=True):
            outcome = outcomes[item.clip.clip_id]
            try:
                placed[item.clip.clip_id].append(self._write(item, speech, models.name))
            except (ImagintalkError, ValueError, OSError) as err:
                _fail(outcome, err)
            if outcome.status != "failed":  # a clip with a failed take stays failed
                outcome.status = "done"

    def _write(self, item: _Pending, speech: ClipSpeech, model: str) -> PlacedAudio:
        samples = fit_to_clip(speech.waveform.samples, item.clip, speech.waveform.sample_rate)
        placed = write_placed_audio(
            item.clip,
            Waveform(samples, speech.waveform.sample_rate),
            item.wav,
            take=item.take,
            seed=item.settings.overrides.seed,
            model=model,
            force=True,  # an existing file here was checked by _reusable
        )
        with atomic_path(_sidecar(item.wav)) as tmp:
            tmp.write_text(json.dumps(item.record, indent=2))
        return placed


def _fatal(err: Exception) -> None:
    """Re-raises what stops the whole run: a cancel, or an existing take of other settings."""
    if isinstance(err, (OutputExistsError, CancelledError)):
        raise err


def _fail(outcome: ClipOutcome, err: Exception) -> None:
    """Marks the clip failed (unless the error stops the whole run)."""
    _fatal(err)
    outcome.status = "failed"
    outcome.error = str(err) if isinstance(err, ImagintalkError) else f"{type(err).__name__}: {err}"
    outcome.files = []


def _placement(clip: ClipRef, wav: Path, take: int, seed: int, model: str) -> PlacedAudio:
    from imagintalk_plugin.timeline.bwf import read_wav_info

    info = read_wav_info(wav)
    return PlacedAudio(
        clip, wav.resolve(), clip.record_range, info.sample_rate, take=take, seed=seed, model=model
    )
