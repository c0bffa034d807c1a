"""Signal-side types flowing between the stages: lips, tokens, style, prosody, audio.

Arrays are numpy; rates are in the field names. The dataclasses are frozen and compare by
identity (`eq=False`) because numpy arrays have no single truth value; `__post_init__` checks
shapes so a mismatch fails where it is made, not three stages later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from opentimelineio.opentime import RationalTime


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise ValueError(what)


@dataclass(frozen=True, eq=False)
class LipTrack:
    """What the model reads from a clip: mouth crops, landmarks, identity and expression.

    All per-frame arrays share T frames at `fps` (25 Hz by the field's convention), starting at
    `start` in the clip's source time. `valid[t]` is False where no face was found; those frames
    must give silence downstream.
    """

    clip_id: str
    fps: float
    start: RationalTime
    mouth_crops: np.ndarray  # (T, H, W) uint8 or float32 grayscale, H = W = 96 or 88
    landmarks: np.ndarray  # (T, 68, 2) float32, image pixels
    valid: np.ndarray  # (T,) bool
    face_embedding: np.ndarray  # (D,) float32, identity of the clip's face
    expressions: np.ndarray  # (T, E) float32, per-frame expression features
    face_crop: np.ndarray | None = None  # (H, W, 3) uint8 aligned face, for the panel

    def __post_init__(self) -> None:
        t = self.mouth_crops.shape[0]
        _check(self.mouth_crops.ndim == 3, "mouth_crops must be (T, H, W)")
        _check(self.landmarks.shape == (t, 68, 2), "landmarks must be (T, 68, 2)")
        _check(self.valid.shape == (t,), "valid must be (T,)")
        _check(self.expressions.ndim == 2 and len(self.expressions) == t, "expressions: (T, E)")
        _check(self.face_embedding.ndim == 1, "face_embedding must be (D,)")
        _check(self.fps > 0, "fps must be positive")
        if self.face_crop is not None:
            _check(self.face_crop.ndim == 3 and self.face_crop.shape[2] == 3, "face_crop: (H,W,3)")

    @property
    def num_frames(self) -> int:
        """Number of video frames T."""
        return int(self.mouth_crops.shape[0])


@dataclass(frozen=True, eq=False)
class TokenSequence:
    """Discrete tokens at `rate_hz` from one codebook, with optional per-token confidence.

    `codebook_id`/`codebook_version` travel with the tokens so a model never decodes tokens
    from another codebook.
    """

    tokens: np.ndarray  # (T,) int64, or (L, T) for multi-level codec tokens
    rate_hz: float
    codebook_id: str
    codebook_version: str
    confidence: np.ndarray | None = None  # (T,) float32 in [0, 1]

    def __post_init__(self) -> None:
        _check(self.tokens.ndim in (1, 2), "tokens must be (T,) or (L, T)")
        _check(np.issubdtype(self.tokens.dtype, np.integer), "tokens must be integers")
        if self.confidence is not None:
            _check(self.confidence.shape == (self.num_steps,), "confidence must be (T,)")
        _check(self.rate_hz > 0, "rate_hz must be positive")

    @property
    def num_steps(self) -> int:
        """Number of time steps T."""
        return int(self.tokens.shape[-1])

    def is_compatible(self, codebook_id: str, codebook_version: str) -> bool:
        """Whether these tokens come from the given codebook."""
        return (self.codebook_id, self.codebook_version) == (codebook_id, codebook_version)


@dataclass(frozen=True, eq=False)
class ProsodyCurves:
    """F0, energy and voicing measured at `rate_hz`, for the panel's prosody view."""

    rate_hz: float
    f0_hz: np.ndarray  # (T,) float32, 0 where unvoiced
    energy_db: np.ndarray  # (T,) float32
    voiced: np.ndarray  # (T,) bool

    def __post_init__(self) -> None:
        t = len(self.f0_hz)
        _check(self.energy_db.shape == (t,) and self.voiced.shape == (t,), "curves differ in T")
        _check(self.rate_hz > 0, "rate_hz must be positive")


EMOTIONS = ("neutral", "happy", "sad", "angry", "surprised")


@dataclass(frozen=True, eq=False)
class StyleVector:
    """The voice and delivery to generate: identity, per-frame prosody and editor overrides."""

    identity: np.ndarray  # (D,) float32, face or speaker embedding
    prosody: np.ndarray | None = None  # (T, P) float32 per-frame expression features
    prosody_fps: float | None = None
    emotion: str | None = None  # one of EMOTIONS, None = from the face
    pitch_offset_semitones: float = 0.0
    speed_factor: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        _check(self.identity.ndim == 1, "identity must be (D,)")
        _check(self.emotion is None or self.emotion in EMOTIONS, f"emotion not in {EMOTIONS}")
        _check(self.speed_factor > 0, "speed_factor must be positive")
        if self.prosody is not None:
            _check(self.prosody.ndim == 2, "prosody must be (T, P)")
            _check(self.prosody_fps is not None and self.prosody_fps > 0, "prosody needs fps")


@dataclass(frozen=True, eq=False)
class Waveform:
    """Audio samples: float32 in [-1, 1], shape (N,) mono or (C, N)."""

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        _check(self.samples.ndim in (1, 2), "samples must be (N,) or (C, N)")
        _check(self.sample_rate > 0, "sample_rate must be positive")

    @property
    def num_samples(self) -> int:
        """Samples per channel N."""
        return int(self.samples.shape[-1])

    @property
    def num_channels(self) -> int:
        """1 for (N,) audio, C for (C, N)."""
        return 1 if self.samples.ndim == 1 else int(self.samples.shape[0])

    @property
    def duration(self) -> RationalTime:
        """Length as an exact time at the sample rate."""
        return RationalTime(self.num_samples, self.sample_rate)
