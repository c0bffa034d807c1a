"""One interface over the inference backends: every stage as a tensor-in, tensor-out callable.

The pipeline holds a `Stages` and never asks which backend is behind it. The torch backend
runs the flat-signature wrappers of `stage_modules` on the models' device; the onnxruntime
backend (`onnx_backend`) runs the same wrappers exported to ONNX. Inputs and outputs are torch
tensors either way (on CPU for onnxruntime), so the sampler and the refiner's loop are shared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from imagintalk_plugin.nn.codec import MelCodec
from imagintalk_plugin.nn.error_detector import ErrorDetector
from imagintalk_plugin.nn.lip_aligner import LipAligner
from imagintalk_plugin.nn.refiner import UnitRefiner
from imagintalk_plugin.nn.speech_generator import SpeechGenerator
from imagintalk_plugin.nn.vocoder import Vocoder
from imagintalk_plugin.runtime.stage_modules import (
    AlignerStage,
    CodecDecoderStage,
    DetectorStage,
    DiTStage,
    RefinerStage,
    StyleStage,
    VocoderSpectrumStage,
)

STAGE_NAMES = ("aligner", "detector", "refiner", "style", "dit", "codec_decoder", "vocoder")
# the Style-DiT for identity overrides (a run's `dit_voice`), present only when the run has one
OVERRIDE_STAGE_NAMES = ("style_voice", "dit_voice")


@dataclass(frozen=True, eq=False)
class Stages:
    """The forward pass of every stage (shapes as in `stage_modules`), and where it runs."""

    backend: str  # "torch" or "onnx"
    device: torch.device  # where inputs must live
    aligner: Callable[..., tuple[torch.Tensor, torch.Tensor]]  # crops, pad[, shape]
    detector: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
    refiner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    style: Callable[..., tuple[torch.Tensor, torch.Tensor]]
    dit: Callable[..., torch.Tensor]
    codec_decoder: Callable[[torch.Tensor], torch.Tensor]
    vocoder: Callable[[torch.Tensor], torch.Tensor]  # mel (B, M, T) -> audio (B, T * hop)
    threads: int = 0  # intra-op threads the backend uses (0: its default)
    style_voice: Callable[..., tuple[torch.Tensor, torch.Tensor]] | None = None  # dit_voice's
    dit_voice: Callable[..., torch.Tensor] | None = None

    def voice_path(self) -> VoicePath:
        """The acoustic stages alone."""
        return VoicePath(
            self.device,
            self.style,
            self.dit,
            self.codec_decoder,
            self.vocoder,
            self.style_voice,
            self.dit_voice,
        )


@dataclass(frozen=True, eq=False)
class VoicePath:
    """The acoustic stages (style, DiT, codec decoder, vocoder), for voice generation alone."""

    device: torch.device
    style: Callable[..., tuple[torch.Tensor, torch.Tensor]]
    dit: Callable[..., torch.Tensor]
    codec_decoder: Callable[[torch.Tensor], torch.Tensor]
    vocoder: Callable[[torch.Tensor], torch.Tensor]
    style_voice: Callable[..., tuple[torch.Tensor, torch.Tensor]] | None = None  # dit_voice's
    dit_voice: Callable[..., torch.Tensor] | None = None


def _no_grad(module: torch.nn.Module) -> Callable:
    def call(*args: torch.Tensor) -> object:
        with torch.inference_mode():
            return module(*args)

    return call


def voice_stage_modules(
    generator: SpeechGenerator,
    codec: MelCodec,
    vocoder: Vocoder,
    override: SpeechGenerator | None = None,
) -> dict[str, torch.nn.Module]:
    """The flat-signature wrappers of the acoustic stages, in eval mode (the vocoder's entry is
    its spectrum: the iSTFT runs outside); `style_voice` and `dit_voice` too with an override
    generator (a run's `dit_voice`)."""
    modules: dict[str, torch.nn.Module] = {
        "style": StyleStage(generator.adapter),
        "dit": DiTStage(generator.dit),
        "codec_decoder": CodecDecoderStage(codec),
        "vocoder": VocoderSpectrumStage(vocoder),
    }
    if override is not None:
        modules["style_voice"] = StyleStage(override.adapter)
        modules["dit_voice"] = DiTStage(override.dit)
    return {name: module.eval() for name, module in modules.items()}


def torch_voice_path(
    generator: SpeechGenerator,
    codec: MelCodec,
    vocoder: Vocoder,
    override: SpeechGenerator | None = None,
) -> VoicePath:
    """The acoustic stages on torch, where the generator's weights live."""
    modules = voice_stage_modules(generator, codec, vocoder, override)
    spectrum = modules["vocoder"]

    def vocode(mel: torch.Tensor) -> torch.Tensor:
        if mel.shape[-1] == 0:  # as `Vocoder.forward`: no frames, no audio (convs need some)
            return mel.new_zeros(mel.shape[0], 0)
        with torch.inference_mode():
            return vocoder.synthesize(*spectrum(mel))

    return VoicePath(
        device=next(generator.parameters()).device,
        style=_no_grad(modules["style"]),
        dit=_no_grad(modules["dit"]),
        codec_decoder=_no_grad(modules["codec_decoder"]),
        vocoder=vocode,
        style_voice=_no_grad(modules["style_voice"]) if override is not None else None,
        dit_voice=_no_grad(modules["dit_voice"]) if override is not None else None,
    )


def _semantic_stage_modules(
    aligner: LipAligner, detector: ErrorDetector, refiner: UnitRefiner
) -> dict[str, torch.nn.Module]:
    modules: dict[str, torch.nn.Module] = {
        "aligner": AlignerStage(aligner),
        "detector": DetectorStage(detector),
        "refiner": RefinerStage(refiner),
    }
    return {name: module.eval() for name, module in modules.items()}


def stage_modules(
    aligner: LipAligner,
    detector: ErrorDetector,
    refiner: UnitRefiner,
    generator: SpeechGenerator,
    codec: MelCodec,
    vocoder: Vocoder,
    override: SpeechGenerator | None = None,
) -> dict[str, torch.nn.Module]:
    """The flat-signature wrapper of every stage, in eval mode, keyed by `STAGE_NAMES` (and
    `OVERRIDE_STAGE_NAMES` with an override generator); the vocoder's entry is its spectrum:
    the iSTFT runs outside."""
    return {
        **_semantic_stage_modules(aligner, detector, refiner),
        **voice_stage_modules(generator, codec, vocoder, override),
    }


def torch_stages(
    aligner: LipAligner,
    detector: ErrorDetector,
    refiner: UnitRefiner,
    generator: SpeechGenerator,
    codec: MelCodec,
    vocoder: Vocoder,
    override: SpeechGenerator | None = None,
) -> Stages:
    """The torch backend: the wrappers called directly, without gradients."""
    semantic = _semantic_stage_modules(aligner, detector, refiner)
    voice = torch_voice_path(generator, codec, vocoder, override)
    return Stages(
        backend="torch",
        device=next(aligner.parameters()).device,
        aligner=_no_grad(semantic["aligner"]),
        detector=_no_grad(semantic["detector"]),
        refiner=_no_grad(semantic["refiner"]),
        style=voice.style,
        dit=voice.dit,
        codec_decoder=voice.codec_decoder,
        vocoder=voice.vocoder,
        threads=torch.get_num_threads(),
        style_voice=voice.style_voice,
        dit_voice=voice.dit_voice,
    )
