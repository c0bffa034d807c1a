"""What the Style-DiT probes share (a module, not a probe: nothing to run).

A run's models, its test speakers' clips, and the DiT's speech for one clip under given
overrides (true units and the aligner's lip features, as `train evaluate-voice` gives them).
Imported by identity_ceiling.py, identity_swap.py and (for `run_sampler`)
regression_decoder.py, which `python research/<name>.py` finds beside them.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.nn.lip_aligner import LipAligner
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings
from imagintalk_plugin.nn.units import UnitExtractor
from imagintalk_plugin.pipeline.acoustic_models import VoiceModels, load_voice_models
from imagintalk_plugin.pipeline.semantic_models import load_aligner, load_units
from imagintalk_plugin.pipeline.voice_generation import (
    VoiceConditions,
    VoiceOverrides,
    synthesize_voice,
)
from imagintalk_plugin.training.acoustic_data import content_conditions
from imagintalk_plugin.training.acoustic_presets import acoustic_preset
from imagintalk_plugin.training.loops.corpus import Utterance
from imagintalk_plugin.training.training_data import load_semantic_corpus


@dataclass(frozen=True, eq=False)
class DitProbe:
    """A run's DiT with what it needs, and the test clips by speaker."""

    units: UnitExtractor
    aligner: LipAligner
    voice_models: VoiceModels
    settings: SamplerSettings
    by_speaker: dict[str, list[Utterance]]

    def speak(self, utt: Utterance, overrides: VoiceOverrides) -> np.ndarray:
        """The DiT's speech for one test clip under `overrides` (seed from them)."""
        ids, lip = content_conditions(utt, self.units, self.aligner)
        assert utt.face_embedding is not None
        assert utt.expressions is not None
        conditions = VoiceConditions(ids, lip, utt.face_embedding, utt.expressions)
        samples, _ = synthesize_voice(self.voice_models, conditions, overrides, self.settings)
        return samples


def probe_arguments(doc: str, per_speaker: int) -> argparse.Namespace:
    """RUN, --data MANIFEST, --per-speaker N; `--help` prints the probe's whole docstring."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="a run or model folder (units, aligner, dit)")
    parser.add_argument("--data", type=Path, required=True, help="the run's manifest.jsonl")
    parser.add_argument(
        "--per-speaker",
        type=int,
        default=per_speaker,
        metavar="N",
        help=f"test clips per held-out speaker (default {per_speaker})",
    )
    return parser.parse_args()


def load_probe(run: Path, data: Path) -> DitProbe:
    """The run's models (checked against each other as `train evaluate-voice` does) and the
    manifest's test clips grouped by speaker, in manifest order."""
    corpus = drive(load_semantic_corpus(data)).corpus
    units = load_units(run)
    aligner = load_aligner(run, units, "cpu")
    voice_models = load_voice_models(run, device="cpu")
    voice_models.check_aligner(aligner, run / "dit")
    by_speaker: dict[str, list[Utterance]] = defaultdict(list)
    for utt in corpus.split("test"):
        by_speaker[utt.speaker].append(utt)
    settings = run_sampler(run)
    return DitProbe(units, aligner, voice_models, settings, dict(sorted(by_speaker.items())))


def run_sampler(run: Path) -> SamplerSettings:
    """The sampler settings of the preset the run's Style-DiT was trained with, as
    `train evaluate-voice` samples it."""
    meta = json.loads((run / "dit" / "config.json").read_text(encoding="utf-8"))["meta"]
    return acoustic_preset(meta["preset"]).sampler
