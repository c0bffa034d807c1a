"""Windows of several clips through the stages in padded batches.

A window is a stretch of one clip's LipTrack (at most `SpeechSettings.window_s`). Windows of
different clips and lengths are padded to the longest of their batch, with a `pad` mask that
every stage honours, so each window gets the units, flags and codec tokens it would get
alone (the same seed, the same tokens); only the throughput changes. The refiner's
mask-predict loop, the codec decoder and the vocoder run window by window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from imagintalk_plugin.core.heap import release_free_heap
from imagintalk_plugin.core.progress import Job, Progress, cancel_point
from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend.lip_shape import LIP_SHAPE_DIM, track_lip_shape
from imagintalk_plugin.nn.lip_aligner import center_crop, crops_to_unit_range
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings
from imagintalk_plugin.nn.refiner import Masking, RefinerForward, refine_tokens
from imagintalk_plugin.pipeline.dub_models import DubModels
from imagintalk_plugin.pipeline.voice_generation import (
    VoiceConditions,
    VoiceOverrides,
    bounded_batches,
    synthesize_voices,
)
from imagintalk_plugin.runtime.stages import Stages

# Frames of video through the lip aligner in one call on the CPU: two 10 s windows, or eight
# 3 s clips. The batch's activations live in host memory and grow with it, and on 2 CPU
# cores two windows are already the fastest (a 60 s clip: 6.5 s against 7.4 s for its 7
# windows at once). A GPU batches `speak_tracks`' whole batch (host memory is not at stake).
MAX_BATCH_FRAMES = 600


@dataclass(frozen=True, eq=False)
class WindowInput:
    """One window to speak: frames [start, stop) of `track`."""

    track: LipTrack
    start: int
    stop: int

    @property
    def frames(self) -> int:
        """Video frames in the window (25 fps)."""
        return self.stop - self.start


@dataclass(frozen=True, eq=False)
class WindowReading:
    """What the semantic branch read from one window (50 Hz, two steps per frame)."""

    units: np.ndarray  # (T,) int64 the aligner's units
    confidence: np.ndarray  # (T,) float32
    error: np.ndarray  # (T,) float32 the detector's probability that a unit is wrong
    refined: np.ndarray  # (T,) int64
    lip: np.ndarray  # (T, F) float32 the aligner's features
    log_probs: np.ndarray | None = None  # (T, K) the aligner's posteriors, when asked for


@dataclass(frozen=True)
class RefineSettings:
    """How flagged units are re-predicted (threshold and weight already resolved)."""

    threshold: float
    lm_weight: float
    passes: int
    masking: Masking = "all"


def read_windows(
    models: DubModels,
    stages: Stages,
    windows: Sequence[WindowInput],
    refine: RefineSettings,
    where: tuple[int, int, str, str],
    posteriors: bool = False,
) -> Job[list[WindowReading]]:
    """Job: aligner and detector over the windows in padded batches (of at most
    `MAX_BATCH_FRAMES` frames on the CPU), then the refiner on each; progress before each
    stage is `where` (done, total, clip id, message); `posteriors` keeps the aligner's."""
    readings: list[WindowReading] = []
    budget = MAX_BATCH_FRAMES if stages.device.type == "cpu" else None
    shapes: dict[int, np.ndarray] = {}  # lip-shape features per track, for aligners reading them
    for chunk in bounded_batches([w.frames for w in windows], budget):
        part = [windows[i] for i in chunk]
        read = _read_batch(models, stages, part, refine, where, shapes, posteriors)
        readings.extend((yield from read))
    return readings


def crop_batch(windows: Sequence[WindowInput], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, size, size) float32 crops in [0, 1] padded with 0, and the (B, T) pad mask.

    Cut to `size` before the conversion and written straight into the batch, so only one
    window's float copy exists besides the batch (the track's uint8 crops stay as they are).
    """
    longest = max(w.frames for w in windows)
    crops = torch.zeros((len(windows), longest, size, size), dtype=torch.float32)
    pad = torch.ones((len(windows), longest), dtype=torch.bool)
    out = crops.numpy()
    for b, w in enumerate(windows):
        out[b, : w.frames] = crops_to_unit_range(
            center_crop(w.track.mouth_crops[w.start : w.stop], size)
        )
        pad[b, : w.frames] = False
    return crops, pad


def shape_batch(windows: Sequence[WindowInput], shapes: dict[int, np.ndarray]) -> torch.Tensor:
    """(B, T, F) lip-shape features of the windows, 0 on padding. Each track's features are
    computed once over the whole track (their resting shape is a 4 s average) and cut."""
    longest = max(w.frames for w in windows)
    out = torch.zeros((len(windows), longest, LIP_SHAPE_DIM), dtype=torch.float32)
    for b, w in enumerate(windows):
        if id(w.track) not in shapes:
            shapes[id(w.track)] = track_lip_shape(w.track)
        out[b, : w.frames] = torch.from_numpy(shapes[id(w.track)][w.start : w.stop])
    return out


def _read_batch(
    models: DubModels,
    stages: Stages,
    windows: Sequence[WindowInput],
    refine: RefineSettings,
    where: tuple[int, int, str, str],
    shapes: dict[int, np.ndarray],
    posteriors: bool = False,
) -> Job[list[WindowReading]]:
    """`read_windows` for windows that go through the aligner as one padded batch."""
    done, total, clip, note = where
    device = stages.device
    frames = [w.frames for w in windows]
    crops, frame_pad = crop_batch(windows, models.semantic.aligner.config.encoder.crop_size)
    frame_pad = frame_pad.to(device)
    yield Progress("lip aligner", done, total, clip, note)
    inputs = [crops.to(device), frame_pad]
    if models.semantic.aligner.reads_shape:
        inputs.append(shape_batch(windows, shapes).to(device))
    logits, features = stages.aligner(*inputs)
    del crops, inputs
    step_pad = frame_pad.repeat_interleave(2, dim=1)  # 25 fps frames -> 50 Hz steps
    log_probs = logits.float().log_softmax(-1)
    confidence, tokens = log_probs.max(-1)
    confidence = confidence.exp()
    yield Progress("error detector", done, total, clip, note)
    error = torch.sigmoid(stages.detector(tokens, confidence, log_probs, step_pad)).float()
    yield Progress("refiner", done, total, clip, note)
    # to the host once for the whole batch, then cut per window
    log_probs, confidence, error = (t.cpu().numpy() for t in (log_probs, confidence, error))
    tokens, features = tokens.cpu().numpy().astype(np.int64), features.float().cpu().numpy()
    readings = []
    for b, n in enumerate(2 * f for f in frames):
        cancel_point()  # the refiner goes window by window: a cancel lands between them
        refined = (
            tokens[b, :n]
            if refine.passes == 0
            else refine_tokens(
                _unpadded(stages),
                models.semantic.refiner.config,
                device,
                tokens[b, :n],
                error[b, :n] >= refine.threshold,
                log_probs[b, :n],
                refine.passes,
                refine.lm_weight,
                refine.masking,
            )
        )
        release_free_heap()  # each window's BERT blocks differ in size: no fragments kept
        readings.append(
            WindowReading(
                units=tokens[b, :n],
                confidence=confidence[b, :n].astype(np.float32),
                error=error[b, :n],
                refined=refined,
                lip=features[b, :n],
                log_probs=log_probs[b, :n].astype(np.float32) if posteriors else None,
            )
        )
    return readings


def _unpadded(stages: Stages) -> RefinerForward:
    def forward(ids: torch.Tensor, lips: torch.Tensor) -> torch.Tensor:
        pad = torch.zeros(ids.shape, dtype=torch.bool, device=ids.device)
        return stages.refiner(ids, lips, pad)

    return forward


def voice_windows(
    models: DubModels,
    stages: Stages,
    windows: Sequence[WindowInput],
    readings: Sequence[WindowReading],
    overrides: Sequence[VoiceOverrides],
    sampler: SamplerSettings,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The Style-DiT over the windows as one padded batch -> per window (audio, codes (L, T'))."""
    items = [
        (
            VoiceConditions(
                units=r.refined,
                lip=r.lip,
                face=w.track.face_embedding.astype(np.float32),
                expressions=w.track.expressions[w.start : w.stop].astype(np.float32),
            ),
            o,
        )
        for w, r, o in zip(windows, readings, overrides, strict=True)
    ]
    voiced = synthesize_voices(models.voice, items, sampler, stages.voice_path())
    return [(audio, codes.tokens) for audio, codes in voiced]
