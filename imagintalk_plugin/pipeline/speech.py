"""One clip's speech from its LipTrack: aligner -> detector -> refiner -> Style-DiT -> vocoder.

A job (a generator yielding `Progress` per stage, so callers can cancel between stages) that
returns a `ClipSpeech`: the take's audio, the panel's curves, the tokens before and after
refinement with the detector's doubt, and the take's metadata.

Long clips run in overlapping windows (10 s, 1 s overlap by default). Two neighbouring
windows both generate the overlap from the same picture; the cut between them is placed at
the quietest 20 ms of the overlap (a pause, where there is one) and crossfaded there, so no
seam lands inside a syllable. Frames where no face was found give silence: the audio under
them is gated to zero with 10 ms ramps, and a window without any face is not generated at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import LipTrack, ProsodyCurves, TokenSequence, Waveform
from imagintalk_plugin.nn.lip_aligner import UNIT_RATE_HZ, center_crop, crops_to_unit_range
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings
from imagintalk_plugin.nn.refiner import refine_tokens
from imagintalk_plugin.pipeline.acoustic_models import CODEC_VERSION
from imagintalk_plugin.pipeline.dub_models import DubModels
from imagintalk_plugin.pipeline.voice_generation import (
    SAMPLE_RATE,
    VoiceConditions,
    VoiceOverrides,
    measure_prosody,
    synthesize_voice,
)
from imagintalk_plugin.runtime.stages import Stages

STEP_SAMPLES = int(SAMPLE_RATE / UNIT_RATE_HZ)  # 320 samples per 50 Hz step
FADE_S = 0.01  # ramps at the edges of face-less stretches
SEAM_STEPS = 1  # crossfade length at a window seam, in 50 Hz steps (20 ms)


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
        }


@dataclass(frozen=True)
class TakeInfo:
    """What made a take: model, seed and settings."""

    model: str
    seed: int
    backend: str
    settings: dict[str, Any]


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

    @property
    def changed(self) -> np.ndarray:
        """(T,) bool: units the refiner changed."""
        return self.units.tokens != self.refined.tokens


@dataclass
class _Window:
    audio: np.ndarray
    units: np.ndarray
    confidence: np.ndarray
    refined: np.ndarray
    error: np.ndarray
    codes: np.ndarray


def window_starts(frames: int, window: int, overlap: int) -> list[int]:
    """Start frames of overlapping windows of `window` frames covering `frames`."""
    if frames <= window:
        return [0]
    starts = list(range(0, frames - window, window - overlap))
    return [*starts, frames - window]


def speak_track(
    models: DubModels, stages: Stages, track: LipTrack, settings: SpeechSettings | None = None
) -> Job[ClipSpeech]:
    """Job: the speech of one LipTrack (25 fps crops) at 16 kHz, as long as the track."""
    settings = settings or SpeechSettings()
    fps = track.fps
    window = max(1, round(settings.window_s * fps))
    overlap = round(settings.overlap_s * fps)
    starts = window_starts(track.num_frames, window, overlap)
    results: list[_Window] = []
    for index, start in enumerate(starts):
        stop = min(track.num_frames, start + window)
        results.append(
            (yield from _speak_window(models, stages, track, start, stop, settings, index, starts))
        )
    speed = settings.overrides.speed_factor
    cuts = [
        _quietest_cut(results[i], starts[i], results[i + 1], starts[i + 1], stop, speed)
        for i, stop in enumerate(min(track.num_frames, s + window) for s in starts[:-1])
    ]
    audio, pieces = _stitch(results, starts, cuts, speed)
    audio = audio * _face_gate(track.valid, fps, len(audio), speed)
    yield Progress("prosody", 0, 1, track.clip_id)
    prosody = measure_prosody(audio)
    yield Progress("prosody", 1, 1, track.clip_id)
    return _assemble(models, stages, track.clip_id, audio, prosody, pieces, settings)


def _speak_window(
    models: DubModels,
    stages: Stages,
    track: LipTrack,
    start: int,
    stop: int,
    settings: SpeechSettings,
    index: int,
    starts: list[int],
) -> Job[_Window]:
    clip, total = track.clip_id, len(starts)
    steps = 2 * (stop - start)
    out_steps = max(1, round(steps / settings.overrides.speed_factor))
    levels = models.voice.generator.config.dit.levels
    if not track.valid[start:stop].any():  # no face anywhere: silence, nothing to generate
        yield Progress("silence", index + 1, total, clip, "no face in this window")
        empty = np.zeros(steps, np.int64)
        return _Window(
            np.zeros(out_steps * STEP_SAMPLES, np.float32),
            empty,
            np.zeros(steps, np.float32),
            empty,
            np.zeros(steps, np.float32),
            np.zeros((levels, out_steps), np.int64),
        )
    device = stages.device
    crops = center_crop(
        crops_to_unit_range(track.mouth_crops[start:stop]),
        models.semantic.aligner.config.encoder.crop_size,
    )
    yield Progress("lip aligner", index, total, clip)
    logits, features = stages.aligner(
        torch.from_numpy(np.ascontiguousarray(crops))[None].to(device)
    )
    log_probs = logits[0].float().log_softmax(-1)
    confidence, tokens = log_probs.max(-1)
    confidence = confidence.exp()
    yield Progress("error detector", index, total, clip)
    error = torch.sigmoid(stages.detector(tokens[None], confidence[None], log_probs[None]))[0]
    yield Progress("refiner", index, total, clip)
    calibration = models.calibration
    threshold = settings.threshold if settings.threshold is not None else calibration.threshold
    lm_weight = settings.lm_weight if settings.lm_weight is not None else calibration.lm_weight
    lip_lp = log_probs.cpu().numpy()
    refined = refine_tokens(
        lambda ids, lips: stages.refiner(ids, lips),
        models.semantic.refiner.config,
        device,
        tokens.cpu().numpy().astype(np.int64),
        (error >= threshold).cpu().numpy(),
        lip_lp,
        settings.refine_passes,
        lm_weight,
    )
    yield Progress("style-dit", index, total, clip)
    conditions = VoiceConditions(
        units=refined,
        lip=features[0].float().cpu().numpy(),
        face=track.face_embedding.astype(np.float32),
        expressions=track.expressions[start:stop].astype(np.float32),
    )
    audio, codes = synthesize_voice(
        models.voice, conditions, settings.overrides, settings.sampler, stages.voice_path()
    )
    yield Progress("style-dit", index + 1, total, clip)
    return _Window(
        _fit(audio, out_steps * STEP_SAMPLES),
        tokens.cpu().numpy().astype(np.int64),
        confidence.cpu().numpy().astype(np.float32),
        refined,
        error.float().cpu().numpy(),
        codes.tokens,
    )


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    """`audio` cut or zero-padded to `length` samples."""
    return np.pad(audio, (0, max(0, length - len(audio))))[:length]


def _out_step(frame: int, speed: float) -> int:
    """Output 50 Hz step of a 25 fps video frame, at the take's speed."""
    return round(2 * frame / speed)


def _quietest_cut(
    left: _Window, left_start: int, right: _Window, right_start: int, left_stop: int, speed: float
) -> int:
    """The output step (absolute) inside the overlap where both windows are quietest."""
    begin, end = _out_step(right_start, speed), _out_step(left_stop, speed)
    margin = max(1, (end - begin) // 4)  # keep the cut away from the windows' own edges
    candidates = np.arange(begin + margin, max(begin + margin + 1, end - margin))

    def energy(w: _Window, origin: int, step: int) -> float:
        local = (step - origin) * STEP_SAMPLES
        chunk = w.audio[max(0, local) : local + STEP_SAMPLES]
        return float(np.sum(chunk.astype(np.float64) ** 2))

    left_origin, right_origin = _out_step(left_start, speed), begin
    costs = [energy(left, left_origin, s) + energy(right, right_origin, s) for s in candidates]
    return int(candidates[int(np.argmin(costs))])


def _stitch(
    windows: list[_Window], starts: list[int], cuts: list[int], speed: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Audio and token arrays joined at the cuts, audio crossfaded over SEAM_STEPS."""
    bounds = [0, *cuts, None]
    audio_parts, token_parts = [], {k: [] for k in ("units", "confidence", "refined", "error")}
    code_parts = []
    fade = SEAM_STEPS * STEP_SAMPLES
    for i, w in enumerate(windows):
        origin_in = 2 * starts[i]  # input-rate steps (tokens)
        origin_out = _out_step(starts[i], speed)
        lo, hi = bounds[i], bounds[i + 1]
        lo_in = 0 if i == 0 else round(lo * speed) - origin_in
        hi_in = None if hi is None else round(hi * speed) - origin_in
        for key in token_parts:
            token_parts[key].append(getattr(w, key)[lo_in:hi_in])
        lo_out = 0 if i == 0 else lo - origin_out
        hi_out = None if hi is None else hi - origin_out
        code_parts.append(w.codes[:, lo_out:hi_out])
        start = lo_out * STEP_SAMPLES
        stop = None if hi_out is None else hi_out * STEP_SAMPLES + fade
        part = w.audio[start:stop].astype(np.float32).copy()
        if audio_parts and fade:
            ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
            previous = audio_parts[-1]
            n = min(fade, len(previous), len(part))
            previous[-n:] = previous[-n:] * (1 - ramp[:n]) + part[:n] * ramp[:n]
            part = part[n:]
        audio_parts.append(part)
    pieces = {key: np.concatenate(parts) for key, parts in token_parts.items()}
    pieces["codes"] = np.concatenate(code_parts, axis=1)
    return np.concatenate(audio_parts), pieces


def _face_gate(valid: np.ndarray, fps: float, length: int, speed: float) -> np.ndarray:
    """(length,) gain: 1 under frames with a face, 0 elsewhere, ramping down over FADE_S."""
    if valid.all():
        return np.ones(length, np.float32)
    frame_samples = SAMPLE_RATE / fps / speed
    index = np.minimum((np.arange(length) / frame_samples).astype(np.int64), len(valid) - 1)
    gate = valid[index].astype(np.float32)
    ramp = max(1, int(FADE_S * SAMPLE_RATE))
    smooth = np.convolve(gate, np.ones(ramp, np.float32) / ramp, mode="same")
    return np.minimum(smooth, gate).astype(np.float32)


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
        take=TakeInfo(models.name, settings.overrides.seed, stages.backend, settings.describe()),
    )
