"""Toy Style-DiT training items: the codec tokens are a fixed function of the speech units, so
a tiny generator can learn to fill masked tokens from the units in a few dozen steps."""

from __future__ import annotations

import numpy as np

from imagintalk_plugin.core.signals import EMOTIONS
from imagintalk_plugin.nn.speech_generator import GeneratorConfig
from imagintalk_plugin.training.loops.dit_training import VoiceItem


def toy_codes(units: np.ndarray, levels: int, codebook_size: int) -> np.ndarray:
    """(L, T) tokens: level l of frame t is (units[t] * (l + 1)) mod C."""
    return np.stack([(units * (level + 1)) % codebook_size for level in range(levels)])


def toy_voice_items(
    config: GeneratorConfig, count: int, seed: int, speakers: int = 3
) -> list[VoiceItem]:
    """`count` items of 30-59 frames; each speaker has one face and one voice vector."""
    rng = np.random.default_rng(seed)
    adapter, dit = config.adapter, config.dit
    faces = rng.standard_normal((speakers, adapter.face_dim)).astype(np.float32)
    voices = rng.standard_normal((speakers, adapter.speaker_dim)).astype(np.float32)
    items = []
    for index in range(count):
        length = int(rng.integers(30, 60))
        units = np.repeat(rng.integers(0, dit.num_units, length), 2)[:length].astype(np.int64)
        speaker = index % speakers
        items.append(
            VoiceItem(
                codes=toy_codes(units, dit.levels, dit.codebook_size).astype(np.int64),
                units=units,
                lip=rng.standard_normal((length, dit.lip_dim)).astype(np.float32),
                face=faces[speaker],
                voice=voices[speaker],
                expressions=rng.standard_normal((length, adapter.expression_dim)).astype(
                    np.float32
                ),
                emotion=int(rng.integers(0, len(EMOTIONS))),
            )
        )
    return items
