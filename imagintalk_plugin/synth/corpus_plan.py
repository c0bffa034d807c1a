"""What the corpus holds, decided before anything is rendered: utterances, splits, emotions.

The plan depends only on the seed, the number of speakers and utterances and the options, so
the same arguments always give the same corpus. Test speakers are held out entirely (about a
sixth of the speakers); a few utterances of each training speaker go to validation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.signals import EMOTIONS
from imagintalk_plugin.synth.sentences import free_sentence, grid_sentence

TEXT_SETS = ("grid", "free")
VALID_SHARE = 0.08
ID_PREFIX = re.compile(r"[A-Za-z0-9_-]+")
TEST_SPEAKER_SHARE = 1 / 6


@dataclass(frozen=True)
class UtterancePlan:
    """One utterance to render: who says what, how, and where it goes."""

    index: int
    id: str
    speaker: int
    words: tuple[str, ...]
    text_set: str
    emotion: str
    intensity: float
    seed: int
    split: str


def speaker_splits(count: int, seed: int) -> list[str]:
    """'train' or 'test' per speaker: a seeded sixth of them (at least one of three) is test."""
    if count < 3:
        return ["train"] * count
    tests = max(1, round(count * TEST_SPEAKER_SHARE))
    order = np.random.default_rng([seed, 101]).permutation(count)
    held = set(order[:tests].tolist())
    return ["test" if i in held else "train" for i in range(count)]


def check_emotions(emotions: Sequence[str]) -> tuple[str, ...]:
    """The emotions asked for, validated (a clear error names the unknown one)."""
    unknown = [e for e in emotions if e not in EMOTIONS]
    if unknown or not emotions:
        raise UsageError(
            f"unknown emotion '{unknown[0] if unknown else ''}': choose from {', '.join(EMOTIONS)}"
        )
    return tuple(dict.fromkeys(emotions))


def plan_corpus(
    utterances: int,
    speakers: int,
    seed: int,
    text_set: str = "grid",
    emotions: Sequence[str] = EMOTIONS,
    id_prefix: str = "",
) -> list[UtterancePlan]:
    """The corpus's utterances: speakers taken in turn, sentences and emotions drawn per item.

    `id_prefix` starts every utterance id (and so its file names), so that corpora rendered
    with the same seed can train together (`train --data` refuses an id in two manifests).
    """
    if utterances < 1 or speakers < 1:
        raise UsageError("need at least one utterance and one speaker")
    if id_prefix and not ID_PREFIX.fullmatch(id_prefix):
        raise UsageError(f"bad id prefix '{id_prefix}': use letters, digits, '-' and '_'")
    if text_set not in TEXT_SETS:
        raise UsageError(f"unknown text set '{text_set}': choose grid or free")
    emotions = check_emotions(emotions)
    splits = speaker_splits(speakers, seed)
    plans = []
    for index in range(utterances):
        rng = np.random.default_rng([seed, index, 1])
        speaker = index % speakers
        words = grid_sentence(rng) if text_set == "grid" else free_sentence(rng)
        emotion = emotions[int(rng.integers(len(emotions)))]
        intensity = 1.0 if emotion == "neutral" else float(rng.uniform(0.7, 1.0))
        split = splits[speaker]
        if split == "train" and rng.random() < VALID_SHARE:
            split = "valid"
        plans.append(
            UtterancePlan(
                index=index,
                id=f"{id_prefix}s{speaker:03d}_{index:05d}",
                speaker=speaker,
                words=tuple(words),
                text_set=text_set,
                emotion=emotion,
                intensity=round(intensity, 3),
                seed=int(rng.integers(2**31 - 1)),
                split=split,
            )
        )
    return plans
