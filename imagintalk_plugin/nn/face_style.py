"""Face-style adapter: what the face says about the voice, as conditioning for the Style-DiT.

Two paths. Identity: the clip's face descriptor goes through an MLP into a style space; a second
MLP maps a reference voice's speaker embedding into the same space (the editor's "reference
voice" override, and the training items whose identity comes from the true voice), and a
learned emotion embedding is added on top. A speaker head predicts the true voice's speaker
embedding from the identity, so an auxiliary cosine loss pulls face identities towards the
voices they belong to. Prosody: per-frame expression features at 50 Hz go through a per-frame
MLP and a depthwise temporal smoothing, so delivery follows the face over time without the
frame-to-frame jitter of landmark tracking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from imagintalk_plugin.core.signals import EMOTIONS


@dataclass(frozen=True, eq=False)
class ExpressionStats:
    """Per-feature mean and spread of the training split's expressions."""

    mean: np.ndarray  # (E,)
    std: np.ndarray  # (E,)

    @staticmethod
    def fit(clips: list[np.ndarray]) -> ExpressionStats:
        """Statistics over every valid frame of the given (T_i, E) clips."""
        frames = np.concatenate(clips)
        frames = frames[np.isfinite(frames).all(axis=1)]
        return ExpressionStats(
            frames.mean(0).astype(np.float32), np.maximum(frames.std(0), 1e-3).astype(np.float32)
        )

    def apply(self, expressions: np.ndarray) -> np.ndarray:
        """Normalised (T, E) features; frames without a face become 0 (the mean)."""
        out = (expressions - self.mean) / self.std
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


@dataclass(frozen=True)
class AdapterConfig:
    """The adapter's shape; presets in `nn.acoustic_presets`."""

    face_dim: int = 128  # dlib face descriptor
    speaker_dim: int = 256  # resemblyzer speaker embedding (the speaker head's target too)
    expression_dim: int = 10  # per-frame landmark expression features
    style_dim: int = 256  # must equal the DiT's style_dim
    hidden: int = 256  # width of every MLP's hidden layer
    smoothing_frames: int = 9  # temporal smoothing kernel at 50 Hz (180 ms: syllable scale)
    num_emotions: int = len(EMOTIONS)  # core.signals.EMOTIONS order; index num_emotions = none


@dataclass(frozen=True)
class StyleConditioning:
    """What the DiT reads about style."""

    identity: torch.Tensor  # (B, style_dim) voice identity + emotion
    prosody: torch.Tensor | None  # (B, T, style_dim) per-frame, zero on padding; None = none
    speaker: torch.Tensor  # (B, speaker_dim) predicted speaker embedding (auxiliary loss)


def _mlp(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cin, hidden), nn.SiLU(), nn.Linear(hidden, cout))


class FaceStyleAdapter(nn.Module):
    """Face (or reference voice) + emotion + expressions -> StyleConditioning."""

    def __init__(self, config: AdapterConfig) -> None:
        super().__init__()
        if config.smoothing_frames < 1:
            raise ValueError(f"smoothing_frames must be >= 1, not {config.smoothing_frames}")
        self.config = config
        self.face_mlp = _mlp(config.face_dim, config.hidden, config.style_dim)
        self.voice_mlp = _mlp(config.speaker_dim, config.hidden, config.style_dim)
        self.emotion = nn.Embedding(config.num_emotions + 1, config.style_dim)
        self.speaker_head = _mlp(config.style_dim, config.hidden, config.speaker_dim)
        self.expression_mlp = _mlp(config.expression_dim, config.hidden, config.style_dim)
        k = config.smoothing_frames
        self.smoothing = nn.Conv1d(
            config.style_dim,
            config.style_dim,
            k,
            padding="same",
            groups=config.style_dim,
            bias=False,
        )  # depthwise over time: each style channel smoothed on its own
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        # emotion starts as no offset: at first the identity is the face's alone
        nn.init.zeros_(self.emotion.weight)
        # smoothing starts as a moving average over the kernel, then learns its own shape
        nn.init.constant_(self.smoothing.weight, 1.0 / self.config.smoothing_frames)

    def forward(
        self,
        face: torch.Tensor | None,
        voice: torch.Tensor | None,
        voice_mask: torch.Tensor | None,
        emotion: torch.Tensor,
        expressions: torch.Tensor | None,
        pad: torch.Tensor | None,
    ) -> StyleConditioning:
        """face (B, face_dim), voice (B, speaker_dim), voice_mask (B,) bool (True = voice),
        emotion (B,) long (num_emotions = none), expressions (B, T, E), pad (B, T) bool.

        `voice_mask` None means all items use the face when there is one, else the voice.
        Both MLPs run whenever both sources are given, so every parameter gets a gradient
        (what DistributedDataParallel expects) whatever the mask draws.
        """
        identity = self.identity(face, voice, voice_mask)  # (B, S)
        batch = identity.shape[0]
        if emotion.shape != (batch,):
            raise ValueError(f"emotion must be ({batch},), got {tuple(emotion.shape)}")
        speaker = self.speaker_head(identity)  # (B, speaker_dim), before the emotion
        identity = identity + self.emotion(emotion)  # (B, S)
        prosody = None if expressions is None else self.prosody(expressions, pad)
        if prosody is not None and prosody.shape[0] != batch:
            raise ValueError(f"expressions have batch {prosody.shape[0]}, the identity {batch}")
        return StyleConditioning(identity=identity, prosody=prosody, speaker=speaker)

    def identity(
        self, face: torch.Tensor | None, voice: torch.Tensor | None, voice_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """(B, style_dim) identity from the face or the voice, chosen per item by voice_mask."""
        cfg = self.config
        if face is not None and (face.ndim != 2 or face.shape[1] != cfg.face_dim):
            raise ValueError(f"face must be (B, {cfg.face_dim}), got {tuple(face.shape)}")
        if voice is not None and (voice.ndim != 2 or voice.shape[1] != cfg.speaker_dim):
            raise ValueError(f"voice must be (B, {cfg.speaker_dim}), got {tuple(voice.shape)}")
        if voice_mask is None:
            if face is None and voice is None:
                raise ValueError("the style needs a face or a voice (both are None)")
            source = face if face is not None else voice
            assert source is not None
            voice_mask = torch.full(
                (source.shape[0],), face is None, dtype=torch.bool, device=source.device
            )
        if voice_mask.ndim != 1:
            raise ValueError(f"voice_mask must be (B,), got {tuple(voice_mask.shape)}")
        batch = voice_mask.shape[0]
        for name, source in (("face", face), ("voice", voice)):
            if source is not None and source.shape[0] != batch:
                raise ValueError(f"{name} has batch {source.shape[0]}, voice_mask {batch}")
        if face is None and not bool(voice_mask.all()):
            raise ValueError("face is None but voice_mask asks for the face on some items")
        if voice is None and bool(voice_mask.any()):
            raise ValueError("voice is None but voice_mask asks for the voice on some items")
        if voice is None:
            assert face is not None
            return self.face_mlp(face)
        if face is None:
            return self.voice_mlp(voice)
        return torch.where(voice_mask[:, None], self.voice_mlp(voice), self.face_mlp(face))

    def prosody(self, expressions: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        """expressions (B, T, E) at 50 Hz -> smoothed per-frame prosody (B, T, style_dim)."""
        cfg = self.config
        if expressions.ndim != 3 or expressions.shape[2] != cfg.expression_dim:
            raise ValueError(
                f"expressions must be (B, T, {cfg.expression_dim}), got {tuple(expressions.shape)}"
            )
        if pad is not None and pad.shape != expressions.shape[:2]:
            raise ValueError(f"pad {tuple(pad.shape)} differs from expressions' (B, T)")
        x = self.expression_mlp(expressions)  # (B, T, S)
        if pad is not None:  # padding must look like the convolution's own zero padding
            x = x.masked_fill(pad[..., None], 0.0)
        x = self.smoothing(x.transpose(1, 2)).transpose(1, 2)  # (B, T, S)
        if pad is not None:
            x = x.masked_fill(pad[..., None], 0.0)
        return x
