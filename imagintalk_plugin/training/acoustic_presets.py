"""Model presets of the acoustic branch: codec, vocoder (+ its discriminator) and Style-DiT.

The preset names are the semantic branch's (`tiny`, `demo`, `paper`) and the DiT's unit
vocabulary and lip-feature width come from the semantic preset of the same name, so one name
fixes a whole ImaginTalk model. Sizes and reasons:

- tiny: a few thousand parameters per stage, no dropout; trains for a handful of steps in
  seconds. For tests only.
- demo: 4 x 1024 RVQ codec over 80-bin log-mels, a Vocos vocoder and a 4-layer 192-wide
  Style-DiT, all narrowed so a training step costs under a second on 2 CPU cores.
- paper: the same codec shape, the full Vocos (384 x 8), a 12-layer 768-wide Style-DiT (GPUs).
"""

from __future__ import annotations

from dataclasses import dataclass

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.nn.codec import CodecConfig
from imagintalk_plugin.nn.discriminators import DiscriminatorConfig
from imagintalk_plugin.nn.face_style import AdapterConfig
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings
from imagintalk_plugin.nn.speech_generator import GeneratorConfig
from imagintalk_plugin.nn.style_dit import DiTConfig
from imagintalk_plugin.nn.vocoder import VocoderConfig
from imagintalk_plugin.training.loops.settings import TrainConfig
from imagintalk_plugin.training.loops.vocoder_training import VocoderGANConfig
from imagintalk_plugin.training.presets import PRESETS, semantic_preset


@dataclass(frozen=True)
class AcousticPreset:
    """Everything the three acoustic stages need."""

    name: str
    codec: CodecConfig
    codec_train: TrainConfig
    vocoder: VocoderGANConfig  # generator, discriminator and GAN loss weights
    vocoder_train: TrainConfig
    generator: GeneratorConfig
    dit_train: TrainConfig
    sampler: SamplerSettings  # inference defaults (the panel and `dub` may override)
    vocoder_seconds: float = 1.0  # audio window per vocoder training item
    # Style-DiT items from speakers without video (synth.voice_bank): face descriptors drawn
    # near the training faces', voices by the corpus's face -> voice rule, espeak-ng speech;
    # with a bank, training clips also take their units from a bank voice. Off in every preset
    # (it did not raise similarity on the demo corpus); `train dit --voice-bank N` turns it on
    voice_only_speakers: int = 0
    voice_only_utterances: int = 0
    # `train dit-voice`: the Style-DiT for identity overrides (a reference voice, another face)
    # learns to follow its identity input: this many bank speakers, and this share of items
    # without lip features (with them the DiT keeps the voice the lips carry)
    voice_dit_speakers: int = 300
    voice_dit_lip_drop: float = 0.5


def _tiny() -> AcousticPreset:
    semantic = semantic_preset("tiny")
    quick = TrainConfig(
        steps=8, batch_size=4, lr=3e-3, warmup=2, eval_every=4, save_every=4, max_frames=50
    )
    codec = CodecConfig(dim=16, layers=1, levels=2, codebook_size=16, codebook_dim=4, dead_after=4)
    generator = GeneratorConfig(
        dit=DiTConfig(
            levels=codec.levels,
            codebook_size=codec.codebook_size,
            num_units=semantic.aligner.num_units,
            lip_dim=semantic.aligner.encoder.dim,
            dim=32,
            layers=1,
            heads=2,
            ff_mult=2,
            dropout=0.0,
            style_dim=16,
        ),
        adapter=AdapterConfig(style_dim=16, hidden=16),
    )
    return AcousticPreset(
        name="tiny",
        codec=codec,
        codec_train=quick,
        vocoder=VocoderGANConfig(
            VocoderConfig(dim=16, intermediate=32, layers=1),
            DiscriminatorConfig(periods=(2, 3), channels=4),
        ),
        vocoder_train=quick,
        generator=generator,
        dit_train=quick,
        sampler=SamplerSettings(steps=4),
        vocoder_seconds=0.4,
        voice_dit_speakers=2,
    )


def _demo() -> AcousticPreset:
    semantic = semantic_preset("demo")
    # sized for 2 CPU cores: a step of each stage costs well under a second there
    codec = CodecConfig(dim=192, layers=4, levels=4, codebook_size=1024)
    generator = GeneratorConfig(
        dit=DiTConfig(
            levels=codec.levels,
            codebook_size=codec.codebook_size,
            num_units=semantic.aligner.num_units,
            lip_dim=semantic.aligner.encoder.dim,
            dim=192,
            layers=4,
            heads=4,
            style_dim=192,
        ),
        adapter=AdapterConfig(style_dim=192, hidden=192),
    )
    short = 100  # 4 s training windows (25 Hz frames)
    return AcousticPreset(
        name="demo",
        codec=codec,
        codec_train=TrainConfig(
            steps=2000,
            batch_size=8,
            lr=1e-3,
            warmup=100,
            eval_every=500,
            save_every=250,
            max_frames=short,
        ),
        vocoder=VocoderGANConfig(
            VocoderConfig(dim=192, intermediate=576, layers=4),
            DiscriminatorConfig(channels=8),
        ),
        vocoder_train=TrainConfig(
            steps=1000,  # about 20 minutes on 2 cores; more steps sharpen the sound further
            batch_size=8,
            lr=2e-4,
            warmup=50,
            eval_every=500,
            save_every=250,
            grad_clip=0.0,  # GAN losses: no joint clip of generator and discriminator
        ),
        generator=generator,
        dit_train=TrainConfig(
            steps=3000,
            batch_size=8,
            lr=5e-4,
            warmup=150,
            eval_every=1000,
            save_every=250,
            max_frames=short,
        ),
        sampler=SamplerSettings(),
        vocoder_seconds=0.64,
    )


def _paper() -> AcousticPreset:
    semantic = semantic_preset("paper")
    codec = CodecConfig(dim=512, layers=8, levels=8, codebook_size=1024)
    generator = GeneratorConfig(
        dit=DiTConfig(
            levels=codec.levels,
            codebook_size=codec.codebook_size,
            num_units=semantic.aligner.num_units,
            lip_dim=semantic.aligner.encoder.dim,
            dim=768,
            layers=12,
            heads=12,
            style_dim=512,
        ),
        adapter=AdapterConfig(style_dim=512, hidden=512),
    )
    return AcousticPreset(
        name="paper",
        codec=codec,
        codec_train=TrainConfig(
            steps=100_000, batch_size=32, lr=5e-4, warmup=2000, eval_every=5000, save_every=5000
        ),
        vocoder=VocoderGANConfig(VocoderConfig(dim=384, intermediate=1152, layers=8)),
        vocoder_train=TrainConfig(
            steps=500_000,
            batch_size=16,
            lr=2e-4,
            warmup=1000,
            eval_every=10_000,
            save_every=5000,
            grad_clip=0.0,
        ),
        generator=generator,
        dit_train=TrainConfig(
            steps=200_000, batch_size=64, lr=2e-4, warmup=5000, eval_every=5000, save_every=5000
        ),
        sampler=SamplerSettings(),
    )


ACOUSTIC_PRESETS = {"tiny": _tiny, "demo": _demo, "paper": _paper}
assert ACOUSTIC_PRESETS.keys() == PRESETS.keys()


def acoustic_preset(name: str) -> AcousticPreset:
    """The named preset; an unknown name is a usage error listing the known ones."""
    if name not in ACOUSTIC_PRESETS:
        raise UsageError(f"unknown preset '{name}' (choose from {', '.join(ACOUSTIC_PRESETS)})")
    return ACOUSTIC_PRESETS[name]()
