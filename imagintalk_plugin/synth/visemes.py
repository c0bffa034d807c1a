"""Phonemes -> mouth shapes over time, with co-articulation.

Each espeak-ng phoneme maps to a viseme: target values for five articulators (jaw opening,
lip spread, lip rounding, lip closure, lower lip to upper teeth) and a dominance saying how
strongly it holds its shape against its neighbours. The curves are blended with the
dominance-weighted smoothing of Cohen & Massaro's co-articulation model: a bilabial closure
always closes the lips, while an /h/ takes the shape of the vowel around it. Diphthongs move
from their first to their second vowel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imagintalk_plugin.core.manifest import Segment

ARTICULATORS = ("jaw", "spread", "round", "close", "labiodental")
_CURVE_RATE = 200  # Hz, the rate the blending runs at before sampling at the video rate
_SIGMA_S = 0.035  # co-articulation smoothing (seconds)


@dataclass(frozen=True)
class Viseme:
    """Articulator targets (0..1) and dominance of one phoneme."""

    jaw: float = 0.0
    spread: float = 0.0
    round: float = 0.0
    close: float = 0.0
    labiodental: float = 0.0
    dominance: float = 1.0

    def vector(self) -> np.ndarray:
        """Targets in ARTICULATORS order."""
        return np.array([self.jaw, self.spread, self.round, self.close, self.labiodental])


REST = Viseme(close=0.8, dominance=0.4)

VISEMES: dict[str, Viseme] = {
    # vowels
    "a": Viseme(jaw=0.9, spread=0.15, dominance=1.5),
    "aa": Viseme(jaw=0.95, dominance=1.5),
    "A": Viseme(jaw=0.9, dominance=1.5),
    "V": Viseme(jaw=0.55, dominance=1.2),
    "@": Viseme(jaw=0.4, dominance=0.8),
    "0": Viseme(jaw=0.8, round=0.25, dominance=1.5),
    "O": Viseme(jaw=0.7, round=0.55, dominance=1.5),
    "o": Viseme(jaw=0.5, round=0.65, dominance=1.5),
    "E": Viseme(jaw=0.6, spread=0.4, dominance=1.4),
    "e": Viseme(jaw=0.45, spread=0.5, dominance=1.4),
    "I": Viseme(jaw=0.3, spread=0.5, dominance=1.2),
    "i": Viseme(jaw=0.2, spread=0.8, dominance=1.4),
    "U": Viseme(jaw=0.3, round=0.65, dominance=1.4),
    "u": Viseme(jaw=0.2, round=0.95, dominance=1.6),
    "3": Viseme(jaw=0.35, round=0.35, dominance=1.2),
    # consonants
    "p": Viseme(close=1.0, dominance=6.0),
    "b": Viseme(close=1.0, dominance=6.0),
    "m": Viseme(close=1.0, dominance=6.0),
    "f": Viseme(jaw=0.1, labiodental=1.0, dominance=4.0),
    "v": Viseme(jaw=0.1, labiodental=1.0, dominance=4.0),
    "w": Viseme(jaw=0.15, round=1.0, dominance=3.0),
    "r": Viseme(jaw=0.25, round=0.5, dominance=1.5),
    "S": Viseme(jaw=0.2, round=0.5, dominance=2.0),
    "Z": Viseme(jaw=0.2, round=0.5, dominance=2.0),
    "T": Viseme(jaw=0.25, spread=0.2, dominance=1.5),
    "D": Viseme(jaw=0.25, spread=0.2, dominance=1.2),
    "s": Viseme(jaw=0.12, spread=0.45, dominance=1.8),
    "z": Viseme(jaw=0.12, spread=0.45, dominance=1.6),
    "t": Viseme(jaw=0.25, spread=0.2, dominance=0.8),
    "d": Viseme(jaw=0.25, spread=0.2, dominance=0.8),
    "n": Viseme(jaw=0.25, spread=0.2, dominance=0.7),
    "l": Viseme(jaw=0.3, spread=0.1, dominance=0.7),
    "k": Viseme(jaw=0.35, dominance=0.6),
    "g": Viseme(jaw=0.35, dominance=0.6),
    "N": Viseme(jaw=0.3, dominance=0.6),
    "j": Viseme(jaw=0.2, spread=0.6, dominance=1.0),
    "h": Viseme(jaw=0.35, dominance=0.2),
}
_AFFRICATES = {"tS": "S", "dZ": "Z"}


def _base(label: str) -> str:
    """espeak-ng's phoneme name without stress marks, length and variant suffixes."""
    return label.lstrip("',").rstrip(":#;-").rstrip("23") or label


def visemes_of(label: str) -> list[Viseme]:
    """The viseme(s) one phoneme moves through: one, or two for a diphthong ("aI" -> a, I)."""
    name = _base(label)
    name = _AFFRICATES.get(name, name)
    if name in VISEMES:
        return [VISEMES[name]]
    parts = []
    rest = name
    while rest:  # greedy split into known vowels: "aI" -> a + I, "i@" -> i + @
        for size in (2, 1):
            if rest[:size] in VISEMES:
                parts.append(VISEMES[rest[:size]])
                rest = rest[size:]
                break
        else:
            rest = rest[1:]  # unknown symbol: skip it
    return parts or [Viseme(jaw=0.3, dominance=0.5)]


def articulation(phonemes: Sequence[Segment], duration: float, fps: float = 25.0) -> np.ndarray:
    """Articulator values (frames, 5) at `fps`, one row per video frame of the clip.

    Targets are laid out at 200 Hz (rest between and around the phonemes), blended as
    sum(dominance * target) / sum(dominance) under a Gaussian window, and averaged over each
    frame's interval, the way a camera's exposure integrates motion.
    """
    steps = max(1, int(np.ceil(duration * _CURVE_RATE)))
    targets = np.tile(REST.vector(), (steps, 1))
    weights = np.full(steps, REST.dominance)
    for phoneme in phonemes:
        shapes = visemes_of(phoneme.label)
        a, b = phoneme.start * _CURVE_RATE, phoneme.end * _CURVE_RATE
        cuts = np.linspace(a, b, len(shapes) + 1)
        for shape, lo, hi in zip(shapes, cuts[:-1], cuts[1:], strict=True):
            i, j = round(float(lo)), max(round(float(hi)), round(float(lo)) + 1)
            targets[i:j] = shape.vector()
            weights[i:j] = shape.dominance
    radius = int(3 * _SIGMA_S * _CURVE_RATE)
    window = np.exp(-0.5 * (np.arange(-radius, radius + 1) / (_SIGMA_S * _CURVE_RATE)) ** 2)
    weighted = np.stack(
        [np.convolve(targets[:, k] * weights, window, "same") for k in range(targets.shape[1])],
        axis=1,
    )
    curves = weighted / np.convolve(weights, window, "same")[:, None]
    frames = max(1, round(float(duration * fps)))
    edges = np.minimum((np.arange(frames + 1) * _CURVE_RATE / fps).round().astype(int), steps)
    out = np.empty((frames, len(ARTICULATORS)), np.float32)
    for f in range(frames):
        lo, hi = edges[f], max(edges[f + 1], edges[f] + 1)
        out[f] = curves[min(lo, steps - 1) : min(hi, steps)].mean(axis=0)
    return out
