"""Training data as arrays: what `pipeline` extracts from a manifest, and batches made from it.

The network code never decodes video or reads manifests' media itself (nn imports only core):
the pipeline runs the front-end over each clip and hands over mouth crops and audio here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

IGNORE = -100  # target value for steps without a unit (padding, audio shorter than video)


@dataclass(frozen=True, eq=False)
class Utterance:
    """One training clip."""

    id: str
    speaker: str
    split: str  # train / valid / test
    crops: np.ndarray  # (T, H, W) uint8 mouth crops at 25 fps (the front-end's 96x96)
    audio: np.ndarray  # (N,) float32 mono at 16 kHz
    face_embedding: np.ndarray | None = None  # (128,) float32 identity (acoustic branch)
    expressions: np.ndarray | None = None  # (T, E) float32 per-frame expression features
    emotion: str = "neutral"  # the corpus label (core.signals.EMOTIONS)
    words: tuple[str, ...] = ()  # the transcript's words (synthetic corpora: to say them again)
    word_times: tuple[tuple[float, float], ...] = ()  # each word's (start, end) s, when timed
    phones: tuple[tuple[str, float, float], ...] = ()  # (phoneme, start s, end s), when timed
    speed: int | None = None  # espeak-ng words/min it was said at (synthetic corpora)
    spell_letters: bool = True  # single letters said by name (the GRID text set)
    corpus: str = ""  # the manifest it came from (its folder name), for per-corpus scores
    shape: np.ndarray | None = None  # (T, F) float32 lip-shape features (frontend.lip_shape)

    @property
    def lip(self) -> LipClip:
        """What the lip aligner reads of this clip."""
        return LipClip(self.crops, self.shape)


@dataclass(frozen=True, eq=False)
class LipClip:
    """One clip as the lip aligner reads it: mouth crops and, for aligners that read the lip
    shape, its landmark geometry (same frames)."""

    crops: np.ndarray  # (T, H, W) uint8 (or float in [0, 1])
    shape: np.ndarray | None = None  # (T, F) float32

    def __len__(self) -> int:
        """Video frames."""
        return len(self.crops)


@dataclass(frozen=True, eq=False)
class SemanticCorpus:
    """Utterances of every split."""

    utterances: list[Utterance]

    def split(self, name: str) -> list[Utterance]:
        """The utterances of one split, in manifest order (a weighted training clip may
        appear several times: see `pipeline.training_data`)."""
        return [u for u in self.utterances if u.split == name]

    def corpora(self) -> list[str]:
        """The names of the manifests the utterances came from, in order of appearance."""
        return list(dict.fromkeys(u.corpus for u in self.utterances))


def unit_targets(units: np.ndarray, frames: int) -> np.ndarray:
    """(2 * frames,) int64 targets at 50 Hz: the units, IGNORE where the audio has none."""
    target = np.full(2 * frames, IGNORE, dtype=np.int64)
    n = min(len(units), 2 * frames)
    target[:n] = units[:n]
    return target


@dataclass(frozen=True)
class LipBatch:
    """A padded batch of lip clips with their 50 Hz targets."""

    crops: torch.Tensor  # (B, T, S, S) float32 in [0, 1]
    pad: torch.Tensor  # (B, T) bool, True on padding
    targets: torch.Tensor  # (B, 2T) int64, IGNORE on padding
    shape: torch.Tensor | None = None  # (B, T, F) float32 lip-shape features, 0 on padding


def time_window(length: int, size: int, rng: np.random.Generator | None) -> slice:
    """At most `size` consecutive steps of `length`: at random with `rng`, else the first."""
    if length <= size:
        return slice(0, length)
    start = int(rng.integers(0, length - size + 1)) if rng is not None else 0
    return slice(start, start + size)


def item_rng(seed: int, step: int, item: int) -> np.random.Generator:
    """Augmentation randomness of one item in one step, independent of the process count."""
    return np.random.default_rng([seed, step, item, 7])


def time_mask_spans(frames: int, longest: int, rng: np.random.Generator) -> list[slice]:
    """One span of 0..`longest` frames per started second (25 frames) of a `frames`-long crop,
    each at a random place: the frames time masking replaces (none when `longest` is 0)."""
    if longest <= 0 or frames <= 0:
        return []
    spans = []
    for _ in range(-(-frames // 25)):
        length = int(rng.integers(0, min(longest, frames) + 1))
        start = int(rng.integers(0, frames - length + 1))
        spans.append(slice(start, start + length))
    return spans


def lip_batch(
    clips: list[LipClip],
    targets: list[np.ndarray],
    *,
    crop_size: int,
    max_frames: int,
    rngs: list[np.random.Generator] | None = None,
    time_mask_frames: int = 0,
) -> LipBatch:
    """Pad clips into a batch; with `rngs` (training), cut a random window of at most
    `max_frames`, crop at a random position, mirror at random and mask spans of time
    (`time_mask_spans`); without, centre crops. Lip-shape features (when every clip has them)
    are cut to the same frames, not mirrored or masked."""
    windows = []
    masks: list[list[slice]] = []
    with_shape = bool(clips) and all(c.shape is not None for c in clips)
    for index, (clip, target) in enumerate(zip(clips, targets, strict=True)):
        crops = clip.crops
        rng = rngs[index] if rngs is not None else None
        frames = time_window(len(crops), max_frames, rng)
        h, w = crops.shape[1:]
        if rng is not None:
            top, left = (
                int(rng.integers(0, h - crop_size + 1)),
                int(rng.integers(0, w - crop_size + 1)),
            )
        else:
            top, left = (h - crop_size) // 2, (w - crop_size) // 2
        part = crops[frames, top : top + crop_size, left : left + crop_size]
        if rng is not None and rng.random() < 0.5:
            part = part[:, :, ::-1]
        shape = clip.shape[frames] if with_shape and clip.shape is not None else None
        windows.append((part, target[2 * frames.start : 2 * frames.stop], shape))
        masks.append([] if rng is None else time_mask_spans(len(part), time_mask_frames, rng))
    longest = max(len(p) for p, _, _ in windows)
    batch = np.zeros((len(windows), longest, crop_size, crop_size), dtype=np.float32)
    pad = np.ones((len(windows), longest), dtype=bool)
    out_targets = np.full((len(windows), 2 * longest), IGNORE, dtype=np.int64)
    shapes = None
    if with_shape:
        dim = windows[0][2].shape[1]  # type: ignore[union-attr]
        shapes = np.zeros((len(windows), longest, dim), dtype=np.float32)
    for i, (part, target, shape) in enumerate(windows):
        batch[i, : len(part)] = part.astype(np.float32) / 255.0
        if masks[i]:
            mean = batch[i, : len(part)].mean(axis=0)
            for span in masks[i]:
                batch[i, span] = mean
        pad[i, : len(part)] = False
        out_targets[i, : len(target)] = target
        if shapes is not None and shape is not None:
            shapes[i, : len(shape)] = shape
    return LipBatch(
        torch.from_numpy(batch),
        torch.from_numpy(pad),
        torch.from_numpy(out_targets),
        None if shapes is None else torch.from_numpy(shapes),
    )
