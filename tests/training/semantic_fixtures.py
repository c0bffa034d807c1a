"""A toy lip/audio corpus for training tests: the mouth shape and the sound share one hidden
'phone' sequence, so an aligner can learn units from pictures in a few dozen steps."""

from __future__ import annotations

import numpy as np

from imagintalk_plugin.training.loops.corpus import SemanticCorpus, Utterance

RATE = 16000
FRAME = RATE // 25  # samples per 25 fps video frame


def _frame_audio(phone: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(FRAME) / RATE
    if phone == 0:
        return 0.001 * rng.standard_normal(FRAME)
    if phone == 3:
        return 0.3 * rng.standard_normal(FRAME)
    return 0.5 * np.sin(2 * np.pi * (250 if phone == 1 else 1800) * t)


def _frame_crop(phone: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[:96, :96]
    height, width = [(2, 20), (8, 14), (22, 18), (6, 30)][phone]
    mouth = ((yy - 48) / height) ** 2 + ((xx - 48) / width) ** 2 <= 1
    crop = np.full((96, 96), 150.0) + rng.normal(0, 8, (96, 96))
    crop[mouth] = 30
    return np.clip(crop, 0, 255).astype(np.uint8)


def toy_corpus(
    speakers: int = 6, per_speaker: int = 4, frames: int = 24, seed: int = 0
) -> SemanticCorpus:
    """Speakers s0..s{n-1}; the last one is the test speaker, each other's first clip valid."""
    rng = np.random.default_rng(seed)
    utterances = []
    for s in range(speakers):
        for j in range(per_speaker):
            length = frames + int(rng.integers(0, 6))
            phones = []
            while len(phones) < length:
                phones += [int(rng.integers(0, 4))] * int(rng.integers(3, 7))
            phones = phones[:length]
            split = "test" if s == speakers - 1 else ("valid" if j == 0 else "train")
            utterances.append(
                Utterance(
                    id=f"s{s}_{j}",
                    speaker=f"s{s}",
                    split=split,
                    crops=np.stack([_frame_crop(p, rng) for p in phones]),
                    audio=np.concatenate([_frame_audio(p, rng) for p in phones]).astype(np.float32),
                )
            )
    return SemanticCorpus(utterances)
