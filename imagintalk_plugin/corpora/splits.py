"""Train / valid / test for imported clips: seeded, so the same clips always split the same.

With several speakers the split is by speaker, as ImaginTalk-Synth does it: about a sixth of
the speakers (at least one of three or more) are test speakers, held out completely, and 8% of
the training speakers' clips are validation. With one speaker it is by clip: a number (or a
share) of the clips is test, another valid, the rest train. Every draw depends only on the
seed and the sorted ids, never on the order clips were found in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.manifest import SPLITS

TEST_SPEAKER_SHARE = 1 / 6
VALID_SHARE = 0.08
MODES = ("auto", "speaker", "clip", *SPLITS)  # a split's name puts every clip in it


@dataclass(frozen=True)
class SplitPlan:
    """How to split: the mode, the seed, and the clip split's test and valid sizes."""

    mode: str = "auto"
    seed: int = 0
    test_clips: float = 100  # >= 1: a count; below 1: a share of the clips
    valid_clips: float = 60

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown split '{self.mode}': choose {', '.join(MODES)}")
        if self.test_clips < 0 or self.valid_clips < 0:
            raise UsageError("--test-clips and --valid-clips must not be negative")


def _count(size: float, total: int) -> int:
    """A count (size >= 1) or a share of `total` (size < 1), at most `total`."""
    return min(total, round(size * total) if size < 1 else int(size))


def split_by_clip(ids: Sequence[str], plan: SplitPlan) -> dict[str, str]:
    """Seeded test / valid clips (counts or shares), the rest train."""
    order = sorted(ids)
    tests = _count(plan.test_clips, len(order))
    valids = min(len(order) - tests, _count(plan.valid_clips, len(order)))
    drawn = np.random.default_rng([plan.seed, 7]).permutation(len(order))
    split = {order[i]: "train" for i in drawn}
    split.update({order[i]: "test" for i in drawn[:tests]})
    split.update({order[i]: "valid" for i in drawn[tests : tests + valids]})
    return split


def split_by_speaker(speakers: dict[str, str], plan: SplitPlan) -> dict[str, str]:
    """Seeded test speakers (a sixth, one of three or more), 8% of the others' clips valid.

    `speakers` maps each clip id to its speaker.
    """
    names = sorted(set(speakers.values()))
    held: set[str] = set()
    if len(names) >= 3:
        tests = max(1, round(len(names) * TEST_SPEAKER_SHARE))
        order = np.random.default_rng([plan.seed, 101]).permutation(len(names))
        held = {names[i] for i in order[:tests]}
    train = sorted(i for i, s in speakers.items() if s not in held)
    valids = round(len(train) * VALID_SHARE)
    drawn = np.random.default_rng([plan.seed, 8]).permutation(len(train))[:valids]
    split = {i: "test" if s in held else "train" for i, s in speakers.items()}
    split.update({train[i]: "valid" for i in drawn})
    return split


def assign_splits(speakers: dict[str, str], plan: SplitPlan) -> tuple[dict[str, str], str]:
    """Each clip id's split and how it was split ("speaker", "clip" or a split's name)."""
    mode = plan.mode
    if mode in SPLITS:
        return dict.fromkeys(speakers, mode), mode
    if mode == "auto":
        mode = "speaker" if len(set(speakers.values())) > 1 else "clip"
    if mode == "speaker":
        return split_by_speaker(speakers, plan), mode
    return split_by_clip(list(speakers), plan), mode
