"""Prosody: F0 (Praat, through parselmouth) and energy, generated vs ground truth.

Generated speech for a take is meant to line up with the picture, so frames are compared at
the same time (10 ms frames from the start, over the shorter clip), not after time warping: a
generated line that drifts off the picture is penalised here, as it should be.

Columns:
- `f0_rmse_hz`: RMS difference of F0 over frames voiced in both.
- `f0_corr`: Pearson correlation of F0 over those frames (the contour's shape).
- `vuv_error`: share of frames where one side is voiced and the other is not.
- `energy_corr`: Pearson correlation of 25 ms frame energy in dB (floored 50 dB under the
  peak, so silence does not dominate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from imagintalk_plugin.audio import PitchTrack, pitch_track
from imagintalk_plugin.evaluation.judge import Judge, Row, Utterance, pearson

ENERGY_FLOOR_DB = 50.0


@dataclass(frozen=True)
class F0Pair:
    """Both F0 contours of one utterance, kept for the plots."""

    utterance_id: str
    text: str
    reference_times: np.ndarray
    reference_hz: np.ndarray
    generated_times: np.ndarray
    generated_hz: np.ndarray


def _floored(energy: np.ndarray) -> np.ndarray:
    return np.maximum(energy, energy.max() - ENERGY_FLOOR_DB) if len(energy) else energy


def compare_pitch(reference: PitchTrack, generated: PitchTrack) -> Row:
    """F0 RMSE, F0 correlation, voicing error and energy correlation of two aligned tracks."""
    count = min(len(reference.times), len(generated.times))
    ref_f0, gen_f0 = reference.f0_hz[:count], generated.f0_hz[:count]
    both = (ref_f0 > 0) & (gen_f0 > 0)
    diff = ref_f0[both].astype(np.float64) - gen_f0[both]
    return {
        "f0_rmse_hz": float(np.sqrt(np.mean(diff**2))) if both.any() else float("nan"),
        "f0_corr": pearson(ref_f0[both], gen_f0[both]),
        "vuv_error": float(np.mean((ref_f0 > 0) != (gen_f0 > 0))) if count else float("nan"),
        "energy_corr": pearson(
            _floored(reference.energy_db[:count]), _floored(generated.energy_db[:count])
        ),
    }


class ProsodyJudge(Judge):
    """F0 RMSE / correlation, voicing error and energy correlation; keeps contours for plots."""

    name = "prosody"
    columns = ("f0_rmse_hz", "f0_corr", "vuv_error", "energy_corr")

    def __init__(self, keep_contours: int = 6) -> None:
        self.keep_contours = keep_contours
        self.contours: list[F0Pair] = []

    def score(self, utterance: Utterance) -> Row:
        """Pitch-track both sides and compare them frame by frame."""
        reference = pitch_track(utterance.reference)
        generated = reference if utterance.is_ceiling else pitch_track(utterance.generated)
        if len(self.contours) < self.keep_contours and reference.voiced.any():
            self.contours.append(
                F0Pair(
                    utterance.entry.id,
                    utterance.entry.text,
                    reference.times,
                    reference.f0_hz,
                    generated.times,
                    generated.f0_hz,
                )
            )
        return compare_pitch(reference, generated)

    def finish(self, rows: list[Row]) -> dict[str, Any]:
        """Nothing corpus-wide beyond the means."""
        return {}
