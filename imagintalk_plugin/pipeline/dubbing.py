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
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.clips import ClipRef, PlacedAudio
from imagintalk_plugin.core.errors import (
    ImagintalkError,
    OutputExistsError,
    UnknownClipError,
    UsageError,
)
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.frontend.prepare import prepare_clip
from imagintalk_plugin.pipeline.dub_models import DubModels
from imagintalk_plugin.pipeline.speech import SpeechSettings, TakeInfo, speak_track
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

    def __post_init__(self) -> None:
        if self.takes < 1:
            raise UsageError(f"--takes must be at least 1, not {self.takes}")


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
    """Job: dub the timeline; `load` gives the models and stages (called once, when needed)."""
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
    loaded_models: list[tuple[DubModels, Stages]] = []
    outcomes, placements = [], []
    for index, clip in enumerate(clips):
        yield Progress("dub", index, len(clips), clip.clip_id, clip.name, unit="clip")
        outcome = ClipOutcome(clip.clip_id, clip.name, "reused")
        try:
            placed = yield from _dub_clip(request, clip, media_dir, load, loaded_models, cache)
        except ImagintalkError as err:
            outcome.status, outcome.error = "failed", str(err)
            if isinstance(err, OutputExistsError):
                raise
        except (ValueError, RuntimeError, OSError) as err:  # one broken clip never stops a run
            outcome.status, outcome.error = "failed", f"{type(err).__name__}: {err}"
        else:
            if any(p[1] for p in placed):
                outcome.status = "done"
            outcome.files = [p[0].audio_path for p in placed]
            placements.extend(p[0] for p in placed)
        outcomes.append(outcome)
    yield Progress("dub", len(clips), len(clips), unit="clip")
    if not placements:
        return DubReport(None, outcomes)
    write_timeline(place_dialogue(loaded.timeline, placements), output, force=request.force)
    return DubReport(output, outcomes)


def _dub_clip(
    request: DubRequest,
    clip: ClipRef,
    media_dir: Path,
    load: Callable[[], tuple[DubModels, Stages]],
    loaded: list[tuple[DubModels, Stages]],
    cache: LipTrackCache | None,
) -> Job[list[tuple[PlacedAudio, bool]]]:
    """The clip's takes as (placement, newly made); reuses takes a previous run finished."""
    out: list[tuple[PlacedAudio, bool]] = []
    track = None
    for take in range(1, request.takes + 1):
        seed = request.seed + take - 1
        settings = replace(
            request.settings, overrides=replace(request.settings.overrides, seed=seed)
        )
        if not loaded:
            loaded.append(load())
        models, stages = loaded[0]
        info = TakeInfo(models.name, seed, stages.backend, settings.describe())
        record = take_record(clip, take, info)
        wav = take_path(media_dir, clip, take)
        if _reusable(wav, record, request.force):
            out.append((_placement(clip, wav, take, seed, models.name), False))
            continue
        if track is None:
            prepared = yield from prepare_clip(clip, cache=cache)
            track = prepared.track
        speech = yield from speak_track(models, stages, track, settings)
        samples = fit_to_clip(speech.waveform.samples, clip, speech.waveform.sample_rate)
        placed = write_placed_audio(
            clip,
            Waveform(samples, speech.waveform.sample_rate),
            wav,
            take=take,
            seed=seed,
            model=models.name,
            force=True,  # an existing file here was checked by _reusable
        )
        with atomic_path(_sidecar(wav)) as tmp:
            tmp.write_text(json.dumps(record, indent=2))
        out.append((placed, True))
    return out


def _placement(clip: ClipRef, wav: Path, take: int, seed: int, model: str) -> PlacedAudio:
    from imagintalk_plugin.timeline.bwf import read_wav_info

    info = read_wav_info(wav)
    return PlacedAudio(
        clip, wav.resolve(), clip.record_range, info.sample_rate, take=take, seed=seed, model=model
    )
