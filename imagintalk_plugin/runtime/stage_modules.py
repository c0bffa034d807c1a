"""Every inference stage as a module with a flat tensor signature.

These wrappers are what both backends run: the torch backend calls them directly, the ONNX
exporter traces them, so the two see the same inputs and outputs by construction. Loops and
decisions (the refiner's masking, the diffusion sampler, iSTFT) stay outside, in the pipeline.
Every stage with a time axis takes `pad` (B, T) bool, True on padded steps, so clips of
different lengths run in one batch and each gets the answer it would get alone; the codec
decoder and the vocoder are convolutional and run one clip at a time instead (their zero
padding at a clip's end is not a padded batch's).
"""

from __future__ import annotations

import torch
from torch import nn

from imagintalk_plugin.nn.codec import MelCodec
from imagintalk_plugin.nn.error_detector import ErrorDetector
from imagintalk_plugin.nn.face_style import FaceStyleAdapter, StyleConditioning
from imagintalk_plugin.nn.lip_aligner import LipAligner
from imagintalk_plugin.nn.refiner import UnitRefiner
from imagintalk_plugin.nn.style_dit import StyleDiT
from imagintalk_plugin.nn.vocoder import Vocoder


class AlignerStage(nn.Module):
    """crops (B, T, S, S) float32 in unit range, centre-cropped, pad (B, T) bool (True on
    padded frames), and for aligners that read the lip shape its features (B, T, F) ->
    logits (B, 2T, K), features (B, 2T, D)."""

    def __init__(self, aligner: LipAligner) -> None:
        super().__init__()
        self.aligner = aligner

    def forward(
        self, crops: torch.Tensor, pad: torch.Tensor, shape: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.aligner(crops, pad, shape)


class DetectorStage(nn.Module):
    """tokens (B, T) int64, confidence (B, T), log_probs (B, T, K), pad (B, T) bool ->
    logits (B, T)."""

    def __init__(self, detector: ErrorDetector) -> None:
        super().__init__()
        self.detector = detector

    def forward(
        self,
        tokens: torch.Tensor,
        confidence: torch.Tensor,
        log_probs: torch.Tensor,
        pad: torch.Tensor,
    ) -> torch.Tensor:
        return self.detector(tokens, confidence, log_probs, pad)


class RefinerStage(nn.Module):
    """input_ids (B, T) int64, lip_log_probs (B, T, K), pad (B, T) bool -> logits (B, T, K)."""

    def __init__(self, refiner: UnitRefiner) -> None:
        super().__init__()
        self.refiner = refiner

    def forward(
        self, input_ids: torch.Tensor, lip_log_probs: torch.Tensor, pad: torch.Tensor
    ) -> torch.Tensor:
        return self.refiner(input_ids, lip_log_probs, pad)


class StyleStage(nn.Module):
    """face (B, 128), voice (B, 256), voice_mask (B,) bool, emotion (B,) int64 (num_emotions =
    from the face), expressions (B, T, E) normalised, pad (B, T) bool -> identity (B, S),
    prosody (B, T, S)."""

    def __init__(self, adapter: FaceStyleAdapter) -> None:
        super().__init__()
        self.adapter = adapter

    def forward(
        self,
        face: torch.Tensor,
        voice: torch.Tensor,
        voice_mask: torch.Tensor,
        emotion: torch.Tensor,
        expressions: torch.Tensor,
        pad: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        style = self.adapter(face, voice, voice_mask, emotion, expressions, pad)
        return style.identity, style.prosody


class DiTStage(nn.Module):
    """codes (B, L, T) int64 with mask ids, units (B, T) int64, lip (B, T, F), identity (B, S),
    prosody (B, T, S), ratio (B,), drop (B,) bool (True: the unconditional branch, content and
    style both dropped), pad (B, T) bool -> logits (B, L, T, C)."""

    def __init__(self, dit: StyleDiT) -> None:
        super().__init__()
        self.dit = dit

    def forward(
        self,
        codes: torch.Tensor,
        units: torch.Tensor,
        lip: torch.Tensor,
        identity: torch.Tensor,
        prosody: torch.Tensor,
        ratio: torch.Tensor,
        drop: torch.Tensor,
        pad: torch.Tensor,
    ) -> torch.Tensor:
        style = StyleConditioning(identity=identity, prosody=prosody, speaker=identity)
        return self.dit(codes, units, lip, style, ratio, pad, drop, drop)


class CodecDecoderStage(nn.Module):
    """codes (B, L, T) int64 -> natural-log mel (B, M, T)."""

    def __init__(self, codec: MelCodec) -> None:
        super().__init__()
        self.codec = codec

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.codec.decode(codes)


class VocoderSpectrumStage(nn.Module):
    """mel (B, M, T) -> magnitude (B, F, T), phase (B, F, T): the vocoder up to its iSTFT.

    The inverse STFT is not an ONNX operator, so both backends run `Vocoder.synthesize` on
    this stage's outputs.
    """

    def __init__(self, vocoder: Vocoder) -> None:
        super().__init__()
        self.vocoder = vocoder

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.vocoder.spectrum(mel)
