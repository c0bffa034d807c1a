"""Loading a trained acoustic branch (codec, vocoder, Style-DiT) from a run folder.

Codec tokens only mean something to the codec that made them, so the codec's identity
(`codec_id`: levels x codes + a digest of its quantiser and decoder weights) is stored in the
vocoder's and the DiT's metadata, and loading refuses a mismatch. The DiT also stores the unit
codebook and the digest of the lip aligner whose features it was trained on.

A run may hold a second Style-DiT, `dit_voice/` (`train dit-voice`): trained to follow the
identity it is given rather than the voice the lip features carry, it speaks the takes whose
identity the editor replaces (a reference voice, another face). It must share the first DiT's
codec, unit codebook and aligner.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.nn.checkpoint import load_module
from imagintalk_plugin.nn.codec import CODEC_KIND, CodecConfig, MelCodec
from imagintalk_plugin.nn.device import pick_device
from imagintalk_plugin.nn.face_style import ExpressionStats
from imagintalk_plugin.nn.speech_generator import DIT_KIND, GeneratorConfig, SpeechGenerator
from imagintalk_plugin.nn.vocoder import VOCODER_KIND, Vocoder, VocoderConfig
from imagintalk_plugin.pipeline.semantic_models import require_stage

CODEC_VERSION = "1"


def weights_digest(module: torch.nn.Module, prefixes: tuple[str, ...] = ("",)) -> str:
    """12 hex digits of sha256 over the named weights starting with one of `prefixes`."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        if name.startswith(prefixes):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def codec_identity(codec: MelCodec) -> str:
    """The codec's identity: its shape plus a digest of all its weights."""
    config = codec.config
    return f"codec-{config.levels}x{config.codebook_size}-{weights_digest(codec)}"


def check_meta(folder: Path, meta: dict, key: str, expected: str) -> None:
    """Refuse a model whose metadata `key` is not `expected` (trained on other inputs)."""
    found = meta.get(key)
    if found != expected:
        raise ModelLoadError(folder, f"was trained with {key} {found}, but this run has {expected}")


def load_codec(out: Path, device: str | None = None) -> tuple[MelCodec, str]:
    """RUN/codec and its identity."""
    codec, _ = load_module(require_stage(out, "codec", "codec"), CODEC_KIND, CodecConfig, MelCodec)
    return codec.to(pick_device(device)), codec_identity(codec)


def load_vocoder(out: Path, codec_id: str, device: str | None = None) -> Vocoder:
    """RUN/vocoder (the generator alone), checked against the codec."""
    folder = require_stage(out, "vocoder", "vocoder")
    vocoder, meta = load_module(folder, VOCODER_KIND, VocoderConfig, Vocoder)
    check_meta(folder, meta, "codec_id", codec_id)
    return vocoder.to(pick_device(device))


OVERRIDE_DIT = "dit_voice"  # the folder of the Style-DiT for identity overrides


@dataclass(frozen=True, eq=False)
class StyleGenerator:
    """A Style-DiT with the expression normalisation it was trained with."""

    generator: SpeechGenerator
    expressions: ExpressionStats


@dataclass(frozen=True, eq=False)
class VoiceModels:
    """The trained acoustic branch, ready to generate."""

    codec: MelCodec
    vocoder: Vocoder
    generator: SpeechGenerator
    codec_id: str
    expressions: ExpressionStats  # the normalisation the DiT was trained with
    aligner_id: str | None = None  # digest of the aligner whose lip features the DiT learned
    override: StyleGenerator | None = None  # RUN/dit_voice: speaks takes with another identity

    @property
    def override_generator(self) -> SpeechGenerator | None:
        """The `dit_voice` Style-DiT alone (None when the run has none)."""
        return None if self.override is None else self.override.generator

    def style_generator(self, identity_replaced: bool) -> StyleGenerator:
        """The DiT (and its expression normalisation) for a take: `dit_voice` when the editor
        replaced the identity and the run has one, the main DiT otherwise."""
        if identity_replaced and self.override is not None:
            return self.override
        return StyleGenerator(self.generator, self.expressions)

    def check_aligner(self, aligner: torch.nn.Module, folder: Path) -> None:
        """Refuse an aligner other than the one the DiT was trained on."""
        check_meta(folder, {"aligner_id": self.aligner_id}, "aligner_id", weights_digest(aligner))


def load_generator(
    out: Path, codec_id: str, device: str | None = None, name: str = "dit"
) -> tuple[SpeechGenerator, dict]:
    """RUN/<name> (face-style adapter + Style-DiT; `dit` or `dit_voice`) and its metadata,
    checked against the codec."""
    folder = require_stage(out, name, name.replace("_", "-"))
    generator, meta = load_module(folder, DIT_KIND, GeneratorConfig, SpeechGenerator)
    check_meta(folder, meta, "codec_id", codec_id)
    for key in ("expression_mean", "expression_std", "codebook_id", "aligner_id"):
        if key not in meta:
            raise ModelLoadError(folder, f"config.json meta lacks '{key}'")
    return generator.to(pick_device(device)), meta


def _expression_stats(meta: dict) -> ExpressionStats:
    return ExpressionStats(
        np.asarray(meta["expression_mean"], np.float32),
        np.asarray(meta["expression_std"], np.float32),
    )


def load_override_generator(
    out: Path, codec_id: str, main_meta: dict, device: str | None = None
) -> StyleGenerator | None:
    """RUN/dit_voice when the run has one (None otherwise), refused unless it was trained on
    the main DiT's unit codebook and aligner."""
    if not (out / OVERRIDE_DIT / "config.json").exists():
        return None
    generator, meta = load_generator(out, codec_id, device, OVERRIDE_DIT)
    for key in ("codebook_id", "aligner_id"):
        check_meta(out / OVERRIDE_DIT, meta, key, main_meta[key])
    return StyleGenerator(generator, _expression_stats(meta))


def load_voice_models(out: Path, device: str | None = None) -> VoiceModels:
    """Codec, vocoder and DiT (and `dit_voice` if any) from a run folder, checked against
    each other."""
    codec, codec_id = load_codec(out, device)
    generator, meta = load_generator(out, codec_id, device)
    return VoiceModels(
        codec=codec,
        vocoder=load_vocoder(out, codec_id, device),
        generator=generator,
        codec_id=codec_id,
        expressions=_expression_stats(meta),
        aligner_id=meta["aligner_id"],
        override=load_override_generator(out, codec_id, meta, device),
    )
