"""A complete `tiny` dubbing checkpoint with seeded random weights, written in the real formats.

Training every stage takes minutes; the pipeline's tests need a checkpoint whose parts load,
agree with each other (codebook, codec, aligner identities) and run, not one that speaks well.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from imagintalk_plugin.nn.checkpoint import save_model
from imagintalk_plugin.nn.codec import CODEC_KIND, MelCodec
from imagintalk_plugin.nn.error_detector import DETECTOR_KIND, ErrorDetector
from imagintalk_plugin.nn.lip_aligner import ALIGNER_KIND, LipAligner
from imagintalk_plugin.nn.refiner import REFINER_KIND, UnitRefiner
from imagintalk_plugin.nn.speech_generator import DIT_KIND, SpeechGenerator
from imagintalk_plugin.nn.units import UnitExtractor, mfcc_dim
from imagintalk_plugin.nn.vocoder import VOCODER_KIND, Vocoder
from imagintalk_plugin.pipeline.acoustic_models import codec_identity, weights_digest
from imagintalk_plugin.training.acoustic_presets import acoustic_preset
from imagintalk_plugin.training.presets import semantic_preset


def write_tiny_checkpoint(
    folder: Path,
    seed: int = 0,
    open_style: bool = False,
    dit_voice: bool = False,
    aligner_inputs: str = "pixels",
) -> Path:
    """Every stage of the `tiny` presets under `folder`, random but consistent; returns it.

    The Style-DiT's style paths start at zero (adaLN-Zero), so an untrained generator ignores
    the face and any timbre; `open_style` fills its zero weights with noise so they matter.
    `dit_voice` adds a second Style-DiT of other weights (with lip dropout, as `train
    dit-voice` makes it) for takes whose identity the editor replaces. `aligner_inputs` is
    what the aligner reads ("pixels", "shape" or "both", as `train aligner --lip-input`).
    """
    torch.manual_seed(seed)
    semantic, acoustic = semantic_preset("tiny"), acoustic_preset("tiny")
    config = semantic.units
    units = UnitExtractor(config, torch.randn(config.num_units, mfcc_dim(config)))
    units.save(folder / "units")
    tied = {"codebook_id": units.codebook_id, "codebook_version": units.codebook_version}
    encoder = replace(semantic.aligner.encoder, inputs=aligner_inputs)
    aligner = LipAligner(replace(semantic.aligner, encoder=encoder))
    if aligner.reads_shape:  # lip-shape features move by about 0.01: scale them to matter
        dim = encoder.shape_dim
        aligner.encoder.set_shape_stats(torch.zeros(dim), torch.full((dim,), 0.01))
    detector = ErrorDetector(semantic.detector)
    refiner = UnitRefiner(semantic.refiner)
    for name, kind, model in (
        ("aligner", ALIGNER_KIND, aligner),
        ("detector", DETECTOR_KIND, detector),
        ("refiner", REFINER_KIND, refiner),
    ):
        save_model(folder / name, kind, model.config, model.state_dict(), tied)
    (folder / "refiner" / "calibration.json").write_text(
        json.dumps({"threshold": 0.5, "lm_weight": 1.0})
    )
    codec = MelCodec(acoustic.codec)
    save_model(folder / "codec", CODEC_KIND, codec.config, codec.state_dict())
    codec_id = codec_identity(codec)
    vocoder = Vocoder(acoustic.vocoder.vocoder)
    save_model(
        folder / "vocoder",
        VOCODER_KIND,
        vocoder.config,
        vocoder.state_dict(),
        {"codec_id": codec_id},
    )
    names = ("dit", "dit_voice") if dit_voice else ("dit",)
    for name in names:
        lip_drop = 0.5 if name == "dit_voice" else 0.0
        generator = SpeechGenerator(replace(acoustic.generator, lip_drop=lip_drop))
        if open_style:
            with torch.no_grad():
                for param in generator.parameters():
                    if not param.any():
                        param.normal_(0.0, 1.0)
        dim = acoustic.generator.adapter.expression_dim
        save_model(
            folder / name,
            DIT_KIND,
            generator.config,
            generator.state_dict(),
            {
                "codec_id": codec_id,
                **tied,
                "aligner_id": weights_digest(aligner),
                "expression_mean": np.zeros(dim).tolist(),
                "expression_std": np.ones(dim).tolist(),
            },
        )
    return folder
