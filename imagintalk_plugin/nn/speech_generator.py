"""Speech generator: the face-style adapter and the Style-DiT as one trainable module.

Training calls `forward` on already-corrupted codes (`nn.masked_diffusion.corrupt`) and gets the
logits for the masked-token loss plus the speaker prediction for the auxiliary cosine loss; the
training loop draws every per-item choice (mask ratio and noise, dropped conditions, face or
voice, emotion label given or not) from its own seeded RNG using the rates stored here.
`generate` runs the adapter once and the masked diffusion sampler with classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from imagintalk_plugin.nn.face_style import AdapterConfig, FaceStyleAdapter
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings, sample
from imagintalk_plugin.nn.style_dit import DiTConfig, StyleDiT

DIT_KIND = "imagintalk/style-dit"  # checkpoint kind of this model family


@dataclass(frozen=True)
class GeneratorConfig:
    """The adapter, the DiT and the per-item training rates (drawn by the training loop)."""

    # fields added after checkpoints were shipped: absent from an older config.json, they load
    # with their defaults, which is how that checkpoint was trained
    ADDED_KEYS: ClassVar[tuple[str, ...]] = ("lip_drop",)

    dit: DiTConfig = field(default_factory=DiTConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    content_drop: float = 0.1  # items trained without units and lips (guidance's uncond branch)
    style_drop: float = 0.1  # items trained without identity and prosody (same)
    voice_share: float = 0.2  # items whose identity comes from the true voice, not the face:
    # trains the "reference voice" override and anchors the identity space to real voices
    emotion_share: float = 0.5  # items given their emotion label; the rest learn it from the face
    speaker_loss_weight: float = 1.0  # cosine loss of the predicted vs true speaker embedding
    lip_drop: float = 0.0  # items trained with their lip features zeroed (units kept): the
    # identity must then carry the voice, so a reference voice or another face can replace it
    # (inference zeroes the lips for those overrides when this is > 0)

    def __post_init__(self) -> None:
        if self.dit.style_dim != self.adapter.style_dim:
            raise ValueError(
                f"dit.style_dim {self.dit.style_dim} != adapter.style_dim {self.adapter.style_dim}"
            )
        for name in ("content_drop", "style_drop", "voice_share", "emotion_share", "lip_drop"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)}")


@dataclass(frozen=True, eq=False)
class GeneratorInputs:
    """One training batch, already corrupted."""

    codes: torch.Tensor  # (B, L, T) long, mask id where masked
    units: torch.Tensor  # (B, T) long
    lip: torch.Tensor  # (B, T, F)
    face: torch.Tensor | None  # (B, face_dim)
    voice: torch.Tensor | None  # (B, speaker_dim)
    voice_mask: torch.Tensor | None  # (B,) bool, True = identity from the voice
    emotion: torch.Tensor  # (B,) long, num_emotions = from the face
    expressions: torch.Tensor | None  # (B, T, E)
    ratio: torch.Tensor  # (B,) the mask ratio each item was corrupted with
    pad: torch.Tensor | None = None  # (B, T) bool, True on padding
    drop_content: torch.Tensor | None = None  # (B,) bool
    drop_style: torch.Tensor | None = None  # (B,) bool


class SpeechGenerator(nn.Module):
    """FaceStyleAdapter -> StyleConditioning -> StyleDiT."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.adapter = FaceStyleAdapter(config.adapter)
        self.dit = StyleDiT(config.dit)

    def forward(self, inputs: GeneratorInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """-> logits (B, L, T, C), predicted speaker embedding (B, speaker_dim)."""
        style = self.adapter(
            inputs.face,
            inputs.voice,
            inputs.voice_mask,
            inputs.emotion,
            inputs.expressions,
            inputs.pad,
        )
        logits = self.dit(
            inputs.codes,
            inputs.units,
            inputs.lip,
            style,
            inputs.ratio,
            inputs.pad,
            inputs.drop_content,
            inputs.drop_style,
        )
        return logits, style.speaker

    @torch.no_grad()
    def generate(
        self,
        units: torch.Tensor | None,
        lip: torch.Tensor | None,
        face: torch.Tensor | None,
        voice: torch.Tensor | None,
        voice_mask: torch.Tensor | None,
        emotion: torch.Tensor | None,
        expressions: torch.Tensor | None,
        settings: SamplerSettings,
        pad: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Codec tokens (B, L, T) for units (T,) or (B, T) and lip features (B, T, F).

        `emotion` None means "from the face" for every item. Puts the module in eval mode.
        """
        if units is None:
            raise ValueError("generate needs units (the speech units to say), got None")
        if lip is None:
            raise ValueError("generate needs lip (the lip features), got None")
        if face is None and voice is None:
            raise ValueError("generate needs a face or a voice for the identity, got neither")
        self.eval()
        batch, length = lip.shape[:2]
        if units.ndim == 1:
            units = units[None].expand(batch, -1)
        device = next(self.parameters()).device
        if emotion is None:
            emotion = torch.full((batch,), self.config.adapter.num_emotions, device=device)
        style = self.adapter(face, voice, voice_mask, emotion, expressions, pad)
        drop = torch.ones(batch, dtype=torch.bool, device=device)

        def logits_fn(codes: torch.Tensor, ratio: torch.Tensor, conditional: bool) -> torch.Tensor:
            if conditional:
                return self.dit(codes, units, lip, style, ratio, pad)
            return self.dit(codes, units, lip, style, ratio, pad, drop, drop)

        cfg = self.config.dit
        return sample(logits_fn, batch, cfg.levels, length, self.dit.mask_id, settings, pad, device)
