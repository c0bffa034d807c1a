"""What every judge is: it sees one utterance at a time, then the whole set once.

A judge may fit something on the ground truth first (`fit`), scores each utterance into a flat
row of numbers (`score`), and may fill in columns that need every utterance (`finish`, e.g. a
speaker's centroid) and return corpus-level figures for the report's summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from imagintalk_plugin.core.manifest import ManifestEntry
from imagintalk_plugin.core.progress import Job

Row = dict[str, Any]


@dataclass(frozen=True, eq=False)
class Utterance:
    """One utterance to judge: its manifest entry, ground-truth and generated 16 kHz audio."""

    entry: ManifestEntry
    reference: np.ndarray  # (N,) float32, the manifest's audio
    generated: np.ndarray  # (M,) float32

    @property
    def is_ceiling(self) -> bool:
        """Whether the generated audio is the ground truth itself (same array)."""
        return self.generated is self.reference


class Judge:
    """Base class: a name, the columns it writes, and no-op fit/finish."""

    name = ""
    columns: tuple[str, ...] = ()

    def fit(self, entries: Sequence[ManifestEntry]) -> Job[None]:
        """Job: learn what the judge needs from the ground truth (nothing by default)."""
        return
        yield

    def score(self, utterance: Utterance) -> Row:
        """The judge's columns for one utterance."""
        raise NotImplementedError

    def finish(self, rows: list[Row]) -> dict[str, Any]:
        """Fill columns needing every utterance into `rows`; corpus-level figures."""
        return {}


def nan_row(columns: Sequence[str]) -> Row:
    """Every column missing (NaN)."""
    return dict.fromkeys(columns, float("nan"))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN when either side is constant or too short."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])
