"""One clip's speech from its LipTrack: aligner -> detector -> refiner -> Style-DiT -> vocoder.

A job (a generator yielding `Progress` per stage, so callers can cancel between stages) that
returns a `ClipSpeech`: the take's audio, the panel's curves, the tokens before and after
refinement with the detector's doubt, and the take's metadata.

Long clips run in overlapping windows (10 s, 1 s overlap by default), stitched at the
quietest point of each overlap (`stitching`); a window without any face is not generated at
all, and face-less frames are gated to silence. `speak_tracks` runs several clips' windows
through the stages in padded batches (`window_batches`), with the same result per clip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from imagintalk_plugin.core.heap import release_free_heap
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import LipTrack, ProsodyCurves, TokenSequence, Waveform
from imagintalk_plugin.nn.lip_aligner import UNIT_RATE_HZ
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings
from imagintalk_plugin.pipeline.acoustic_models import CODEC_VERSION
from imagintalk_plugin.pipeline.dub_models import DubModels
from imagintalk_plugin.pipeline.line_speech import line_readings
from imagintalk_plugin.pipeline.stitching import (
    STEP_SAMPLES,
    WindowSpeech,
    face_gate,
    fit_length,
    quietest_cut,
    stitch,
)
from imagintalk_plugin.pipeline.voice_generation import (
    SAMPLE_RATE,
    VoiceOverrides,
    measure_prosody,
    uses_override_dit,
)
from imagintalk_plugin.pipeline.window_batches import (
    RefineSettings,
    WindowInput,
    WindowReading,
    read_windows,
    voice_windows,
)
from imagintalk_plugin.runtime.stages import Stages


@dataclass(frozen=True)
class SpeechSettings:
    """Everything an editor may change about one take; None means the checkpoint's choice."""

    threshold: float | None = None  # detector flag threshold (None: calibrated)
    lm_weight: float | None = None  # refiner weight against the lips (None: calibrated)
    refine_passes: int = 1
    sampler: SamplerSettings = field(default_factory=SamplerSettings)  # seed: overrides.seed
    overrides: VoiceOverrides = field(default_factory=VoiceOverrides)
    window_s: float = 10.0
    overlap_s: float = 1.0
    # where the overrides' timbre came from, for the take's metadata: (key, value) pairs such as
    # (("source", "reference audio"), ("path", "/takes/ref.wav")); the clip's own face by default
    timbre: tuple[tuple[str, str], ...] = (("source", "face"),)
    # ADR: the known line this take says, its timing from the lips (None: words from the lips)
    line: str | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"detector threshold {self.threshold} is outside 0-1")
        if self.window_s <= 2 * self.overlap_s or self.overlap_s < 0.1:
            raise ValueError("windows need overlap >= 0.1 s and window > 2 x overlap")

    def describe(self) -> dict[str, Any]:
        """JSON-ready settings for take metadata (arrays of overrides summarised)."""
        o = self.overrides
        return {
            "threshold": self.threshold,
            "lm_weight": self.lm_weight,
            "refine_passes": self.refine_passes,
            "sampler": asdict(self.sampler) | {"seed": o.seed},
            "emotion": o.emotion,
            "pitch_offset_semitones": o.pitch_offset_semitones,
            "speed_factor": o.speed_factor,
            "reference_voice": o.reference_voice is not None,
            "other_face": o.face is not None,
            "timbre": dict(self.timbre),
            "line": self.line,
        }


@dataclass(frozen=True)
class TakeInfo:
    """What made a take: model, seed and settings."""

    model: str
    seed: int
    backend: str
    settings: dict[str, Any]
    model_digest: str = ""  # the checkpoint's content (`dub_models.content_digest`)


def take_info(models: DubModels, settings: SpeechSettings, backend: str) -> TakeInfo:
    """A take's metadata: the settings, plus the refinement the checkpoint's calibration
    resolves them to, so a take made before a recalibration is never taken for a new one."""
    refinement = asdict(_refine_settings(models, settings)) | {"model": models.calibration.model}
    style_dit = "dit_voice" if uses_override_dit(models.voice, settings.overrides) else "dit"
    described = settings.describe() | {"refinement": refinement, "style_dit": style_dit}
    return TakeInfo(models.name, settings.overrides.seed, backend, described, models.digest)


@dataclass(frozen=True, eq=False)
class ClipSpeech:
    """One clip's generated take and what the panel draws about it."""

    clip_id: str
    waveform: Waveform
    prosody: ProsodyCurves
    units: TokenSequence  # the aligner's units with their confidence (50 Hz)
    refined: TokenSequence  # after the refiner (50 Hz)
    error_prob: np.ndarray  # (T,) the detector's probability that each unit is wrong
    codes: TokenSequence  # (L, T') codec tokens
    take: TakeInfo
    notes: tuple[str, ...] = ()  # what the editor should know, e.g. a line that barely fits

    @property
    def changed(self) -> np.ndarray:
        """(T,) bool: units the refiner changed."""
        return self.units.tokens != self.refined.tokens


def window_starts(frames: int, window: int, overlap: int) -> list[int]:
    """Start frames of overlapping windows of `window` frames covering `frames`."""
    if frames <= window:
        return [0]
    starts = list(range(0, frames - window, window - overlap))
    return [*starts, frames - window]


def speak_track(
    models: DubModels,
    stages: Stages,
    track: LipTrack,
    settings: SpeechSettings | None = None,
    batch_size: int = 1,
) -> Job[ClipSpeech]:
    """Job: the speech of one LipTrack (25 fps crops) at 16 kHz, as long as the track (a long
    clip's windows `batch_size` at a time)."""
    requests = [(track, settings or SpeechSettings())]
    speeches = yield from speak_tracks(models, stages, requests, batch_size)
    return speeches[0]


def speak_tracks(
    models: DubModels,
    stages: Stages,
    requests: Sequence[tuple[LipTrack, SpeechSettings]],
    batch_size: int = 1,
    deliver: Callable[[int, ClipSpeech], None] | None = None,
) -> Job[list[ClipSpeech]]:
    """Job: the speech of several LipTracks (each with its settings), in request order.

    Every track's windows go through the stages `batch_size` at a time, padded (see
    `window_batches`): a take is the same as `speak_track` gives, only sooner where the
    device has room for a batch. Windows are batched only with others of the same detector,
    refiner and sampler settings; overrides (voice, emotion, speed, pitch, seed) may differ.
    Each track is joined as soon as its last window is made and handed to `deliver(index,
    speech)`, so a caller can keep it (write the take) before a cancel ends the rest.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, not {batch_size}")
    windows = [_windows(track, settings) for track, settings in requests]
    total, done = sum(len(own) for own in windows), 0
    results: dict[tuple[int, int], WindowSpeech] = {}
    speeches: dict[int, ClipSpeech] = {}
    groups: dict[tuple, list[tuple[int, int]]] = {}
    notes: dict[int, tuple[str, ...]] = {}
    for r, (track, settings) in enumerate(requests):
        for i, w in enumerate(windows[r]):
            if not track.valid[w.start : w.stop].any():  # no face: silence, nothing to make
                results[r, i] = _silence(models, w, settings)
                done += 1
                yield Progress("silence", done, total, track.clip_id, "no face in this window")
            elif settings.line is None:
                groups.setdefault(_batch_key(models, settings), []).append((r, i))

    def finish() -> Job[None]:
        """Join and deliver every track whose windows are all made."""
        for r, (track, settings) in enumerate(requests):
            if r in speeches or any((r, i) not in results for i in range(len(windows[r]))):
                continue
            own = [results.pop((r, i)) for i in range(len(windows[r]))]
            joined = _join(models, stages, track, settings, windows[r], own, notes.get(r, ()))
            speeches[r] = yield from joined
            if deliver is not None:
                deliver(r, speeches[r])

    yield from finish()
    for r, (track, settings) in enumerate(requests):  # known lines: each clip as a whole
        faced = [i for i, w in enumerate(windows[r]) if (r, i) not in results]
        if settings.line is None or not faced:
            continue
        where = (done, total, track.clip_id, "placing the line on the lips")
        inputs = [windows[r][i] for i in faced]
        own_voice = not uses_override_dit(models.voice, settings.overrides)
        refine = _refine_settings(models, settings)
        readings, fit = yield from line_readings(
            models, stages, inputs, settings.line, refine, where, own_voice
        )
        notes[r] = () if fit.warning is None else (fit.warning,)
        for first in range(0, len(faced), batch_size):
            keys = [(r, i) for i in faced[first : first + batch_size]]
            part = readings[first : first + batch_size]
            yield Progress("style-dit", done, total, track.clip_id, "the line")
            results.update(_voice_batch(models, stages, requests, windows, keys, part))
            done += len(keys)
        yield from finish()
    for members in groups.values():
        members.sort(key=lambda ri: -windows[ri[0]][ri[1]].frames)
        for first in range(0, len(members), batch_size):
            batch = members[first : first + batch_size]
            made = yield from _speak_batch(models, stages, requests, windows, batch, done, total)
            results.update(made)
            done += len(batch)
            yield from finish()
    return [speeches[r] for r in range(len(requests))]


def _windows(track: LipTrack, settings: SpeechSettings) -> list[WindowInput]:
    """The track's overlapping windows (the last ends with the track)."""
    window = max(1, round(settings.window_s * track.fps))
    overlap = round(settings.overlap_s * track.fps)
    return [
        WindowInput(track, start, min(track.num_frames, start + window))
        for start in window_starts(track.num_frames, window, overlap)
    ]


def _refine_settings(models: DubModels, settings: SpeechSettings) -> RefineSettings:
    """The detector threshold and fusion weight, the checkpoint's calibration where unset, and
    the calibration's masking."""
    calibration = models.calibration
    threshold = settings.threshold if settings.threshold is not None else calibration.threshold
    lm_weight = settings.lm_weight if settings.lm_weight is not None else calibration.lm_weight
    return RefineSettings(threshold, lm_weight, settings.refine_passes, calibration.masking)


def _batch_key(models: DubModels, settings: SpeechSettings) -> tuple:
    """Windows with equal keys share a batch: all but the per-clip overrides agree."""
    return (_refine_settings(models, settings), replace(settings.sampler, seed=0))


def _out_steps(frames: int, speed: float) -> int:
    return max(1, round(2 * frames / speed))


def _silence(models: DubModels, window: WindowInput, settings: SpeechSettings) -> WindowSpeech:
    steps = 2 * window.frames
    out_steps = _out_steps(window.frames, settings.overrides.speed_factor)
    levels = models.voice.generator.config.dit.levels
    empty = np.zeros(steps, np.int64)
    return WindowSpeech(
        np.zeros(out_steps * STEP_SAMPLES, np.float32),
        empty,
        np.zeros(steps, np.float32),
        empty,
        np.zeros(steps, np.float32),
        np.zeros((levels, out_steps), np.int64),
    )


def _speak_batch(
    models: DubModels,
    stages: Stages,
    requests: Sequence[tuple[LipTrack, SpeechSettings]],
    windows: list[list[WindowInput]],
    batch: list[tuple[int, int]],
    done: int,
    total: int,
) -> Job[dict[tuple[int, int], WindowSpeech]]:
    """One batch of windows through every stage, with progress between the stages."""
    inputs = [windows[r][i] for r, i in batch]
    all_settings = [requests[r][1] for r, _ in batch]
    clip = inputs[0].track.clip_id
    note = "" if len(batch) == 1 else f"{len(batch)} windows of {len({r for r, _ in batch})} clips"
    readings = yield from read_windows(
        models, stages, inputs, _refine_settings(models, all_settings[0]), (done, total, clip, note)
    )
    yield Progress("style-dit", done, total, clip, note)
    made = _voice_batch(models, stages, requests, windows, batch, readings)
    yield Progress("style-dit", done + len(batch), total, clip, note)
    return made


def _voice_batch(
    models: DubModels,
    stages: Stages,
    requests: Sequence[tuple[LipTrack, SpeechSettings]],
    windows: list[list[WindowInput]],
    batch: list[tuple[int, int]],
    readings: Sequence[WindowReading],
) -> dict[tuple[int, int], WindowSpeech]:
    """The Style-DiT over read windows of one batch -> each window's speech."""
    inputs = [windows[r][i] for r, i in batch]
    all_settings = [requests[r][1] for r, _ in batch]
    voiced = voice_windows(
        models,
        stages,
        inputs,
        readings,
        [s.overrides for s in all_settings],
        all_settings[0].sampler,
    )
    made = {}
    for key, w, reading, settings, (audio, codes) in zip(
        batch, inputs, readings, all_settings, voiced, strict=True
    ):
        out_steps = _out_steps(w.frames, settings.overrides.speed_factor)
        made[key] = WindowSpeech(
            fit_length(audio, out_steps * STEP_SAMPLES),
            reading.units,
            reading.confidence,
            reading.refined,
            reading.error,
            codes,
        )
    return made


def _join(
    models: DubModels,
    stages: Stages,
    track: LipTrack,
    settings: SpeechSettings,
    windows: list[WindowInput],
    results: list[WindowSpeech],
    notes: tuple[str, ...] = (),
) -> Job[ClipSpeech]:
    """One track's windows stitched, gated under face-less frames, its prosody measured."""
    speed, starts = settings.overrides.speed_factor, [w.start for w in windows]
    cuts = [
        quietest_cut(results[i], starts[i], results[i + 1], starts[i + 1], windows[i].stop, speed)
        for i in range(len(starts) - 1)
    ]
    audio, pieces = stitch(results, starts, cuts, speed)
    if not track.valid.all():  # a face throughout gates nothing: no copy of a long take
        audio = audio * face_gate(track.valid, track.fps, len(audio), speed)
    yield Progress("prosody", 0, 1, track.clip_id)
    prosody = measure_prosody(audio)
    # The take is done: what its windows freed goes back to the OS before it is delivered
    # (resampled to 48 kHz, blocks too large for the heap's free space to serve).
    release_free_heap()
    yield Progress("prosody", 1, 1, track.clip_id)
    speech = _assemble(models, stages, track.clip_id, audio, prosody, pieces, settings)
    return replace(speech, notes=notes)


def _assemble(
    models: DubModels,
    stages: Stages,
    clip_id: str,
    audio: np.ndarray,
    prosody: ProsodyCurves,
    pieces: dict[str, np.ndarray],
    settings: SpeechSettings,
) -> ClipSpeech:
    units = models.semantic.units
    sequence: dict[str, Any] = {
        "rate_hz": UNIT_RATE_HZ,
        "codebook_id": units.codebook_id,
        "codebook_version": units.codebook_version,
    }
    return ClipSpeech(
        clip_id=clip_id,
        waveform=Waveform(np.clip(audio, -1.0, 1.0).astype(np.float32), SAMPLE_RATE),
        prosody=prosody,
        units=TokenSequence(tokens=pieces["units"], confidence=pieces["confidence"], **sequence),
        refined=TokenSequence(tokens=pieces["refined"], **sequence),
        error_prob=pieces["error"],
        codes=TokenSequence(
            tokens=pieces["codes"],
            rate_hz=SAMPLE_RATE / STEP_SAMPLES,
            codebook_id=models.voice.codec_id,
            codebook_version=CODEC_VERSION,
        ),
        take=take_info(models, settings, stages.backend),
    )
