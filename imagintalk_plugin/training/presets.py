"""Model presets of the semantic branch: `tiny` (tests), `demo` (CPU-trainable), `paper` (GPU).

One preset fixes every stage's model config and training settings, so `imagintalk train STAGE
--preset P` needs nothing else. Sizes and reasons:

- tiny: a few thousand parameters per stage, no dropout (so N processes equal one exactly);
  trains for a handful of steps in seconds. For tests only.
- demo: ~4 M-parameter aligner on 44x44 (pooled) crops, 4 Conformer layers; trains on an
  ImaginTalk-Synth corpus in about an hour on 2 CPU cores, minutes on a GPU.
- paper: ResNet-18 trunk on full 88x88 crops, 12-layer 768-wide Conformer, 12-layer BERT.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.nn.error_detector import DetectorConfig
from imagintalk_plugin.nn.lip_aligner import AlignerConfig
from imagintalk_plugin.nn.refiner import RefinerConfig
from imagintalk_plugin.nn.units import UnitConfig
from imagintalk_plugin.nn.visual_encoder import VisualEncoderConfig
from imagintalk_plugin.training.loops.settings import TrainConfig

# the lip readers' time masking (`TrainConfig.time_mask_frames`): up to 0.4 s masked per second.
# On real GRID s1 alone (3000 demo aligner steps) it lifted test unit accuracy 26.5% -> 28.3%
TIME_MASK_FRAMES = 10


@dataclass(frozen=True)
class SemanticPreset:
    """Everything the four semantic stages need."""

    name: str
    units: UnitConfig
    aligner: AlignerConfig
    aligner_train: TrainConfig
    folds: int  # held-out folds for the detector's training predictions
    fold_train: TrainConfig  # fold aligners: same model, usually a shorter schedule
    detector: DetectorConfig
    detector_train: TrainConfig
    refiner: RefinerConfig
    refiner_pretrain: TrainConfig
    refiner_finetune: TrainConfig
    threshold: float = 0.5  # detector probability above which a token is re-predicted
    passes: int = 2  # mask-predict passes of the refiner
    notes: list[str] = field(default_factory=list)


def _tiny() -> SemanticPreset:
    k = 16
    encoder = VisualEncoderConfig(
        input_pool=2,
        stem_channels=4,
        trunk_channels=(8, 16),
        blocks_per_stage=(1, 1),
        dim=32,
        layers=1,
        heads=2,
        ff_mult=2,
        conv_kernel=3,
        dropout=0.0,
    )
    quick = TrainConfig(
        steps=8, batch_size=4, lr=3e-3, warmup=2, eval_every=4, save_every=4, max_frames=50
    )
    return SemanticPreset(
        name="tiny",
        units=UnitConfig(num_units=k, kmeans_iters=10, max_fit_frames=20_000),
        aligner=AlignerConfig(encoder=encoder, num_units=k, label_smoothing=0.0),
        aligner_train=quick,
        folds=2,
        fold_train=quick,
        detector=DetectorConfig(num_units=k, dim=32, layers=1, heads=2, ff_mult=2, dropout=0.0),
        detector_train=quick,
        refiner=RefinerConfig(
            num_units=k,
            hidden=32,
            layers=1,
            heads=2,
            intermediate=64,
            max_positions=128,
            dropout=0.0,
        ),
        refiner_pretrain=quick,
        refiner_finetune=quick,
    )


def _demo() -> SemanticPreset:
    k = 200
    encoder = VisualEncoderConfig(input_pool=2, dim=192, layers=4, heads=4, dropout=0.1)
    return SemanticPreset(
        name="demo",
        units=UnitConfig(num_units=k),
        aligner=AlignerConfig(encoder=encoder, num_units=k),
        aligner_train=TrainConfig(
            steps=3000,
            batch_size=8,
            lr=2e-3,
            warmup=80,
            eval_every=200,
            save_every=100,
            time_mask_frames=TIME_MASK_FRAMES,
        ),
        folds=3,
        fold_train=TrainConfig(
            steps=800,
            batch_size=8,
            lr=2e-3,
            warmup=80,
            eval_every=800,
            save_every=200,
            seed=1,
            time_mask_frames=TIME_MASK_FRAMES,
        ),
        detector=DetectorConfig(num_units=k, dim=128, layers=2, heads=4),
        detector_train=TrainConfig(
            steps=400, batch_size=16, lr=1e-3, warmup=40, eval_every=200, save_every=200
        ),
        refiner=RefinerConfig(num_units=k, hidden=256, layers=4, heads=4, intermediate=1024),
        refiner_pretrain=TrainConfig(
            steps=2000, batch_size=32, lr=5e-4, warmup=60, eval_every=500, save_every=250
        ),
        refiner_finetune=TrainConfig(
            steps=400, batch_size=32, lr=2e-4, warmup=40, eval_every=200, save_every=200
        ),
    )


def _paper() -> SemanticPreset:
    k = 200
    encoder = VisualEncoderConfig(
        input_pool=1,
        stem_channels=64,
        trunk_channels=(64, 128, 256, 512),
        blocks_per_stage=(2, 2, 2, 2),
        dim=768,
        layers=12,
        heads=12,
        conv_kernel=31,
    )
    return SemanticPreset(
        name="paper",
        units=UnitConfig(num_units=k),
        aligner=AlignerConfig(encoder=encoder, num_units=k),
        aligner_train=TrainConfig(
            steps=60_000,
            batch_size=32,
            lr=6e-4,
            warmup=3000,
            eval_every=2000,
            save_every=2000,
            time_mask_frames=TIME_MASK_FRAMES,
        ),
        folds=4,
        fold_train=TrainConfig(
            steps=30_000,
            batch_size=32,
            lr=6e-4,
            warmup=1500,
            eval_every=5000,
            save_every=2000,
            seed=1,
            time_mask_frames=TIME_MASK_FRAMES,
        ),
        detector=DetectorConfig(num_units=k, dim=384, layers=4, heads=6),
        detector_train=TrainConfig(
            steps=10_000, batch_size=64, lr=5e-4, warmup=500, eval_every=1000, save_every=1000
        ),
        refiner=RefinerConfig(num_units=k, hidden=768, layers=12, heads=12, intermediate=3072),
        refiner_pretrain=TrainConfig(
            steps=100_000, batch_size=64, lr=3e-4, warmup=5000, eval_every=5000, save_every=5000
        ),
        refiner_finetune=TrainConfig(
            steps=20_000, batch_size=64, lr=1e-4, warmup=1000, eval_every=2000, save_every=2000
        ),
    )


PRESETS = {"tiny": _tiny, "demo": _demo, "paper": _paper}


def semantic_preset(name: str) -> SemanticPreset:
    """The named preset; an unknown name is a usage error listing the known ones."""
    if name not in PRESETS:
        raise UsageError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
    return PRESETS[name]()
