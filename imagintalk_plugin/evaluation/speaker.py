"""Timbre: speaker similarity from Resemblyzer's pretrained voice encoder (GE2E, 256-d).

Resemblyzer ships its weights in the wheel (`pretrained.pt`), so nothing is downloaded. Each
clip goes through its own preprocessing (volume normalisation, webrtcvad trimming of long
silences) and becomes one unit-length embedding; similarity is the cosine of two.

Columns:
- `speaker_sim`: generated vs the ground truth of the same utterance (1.0 for the ceiling).
- `speaker_sim_centroid`: generated vs the mean ground-truth voice of the same speaker over the
  other judged utterances (the ceiling is how alike one voice is with itself).
- `speaker_sim_other`: generated vs the other speakers' mean voices, averaged: a generated
  voice should sit clearly closer to its own speaker than to the rest.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from imagintalk_plugin.audio import SpeakerEncoder, cosine
from imagintalk_plugin.evaluation.judge import Judge, Row, Utterance


class SpeakerJudge(Judge):
    """Cosine similarity of voice embeddings, generated vs the ground-truth voices."""

    name = "speaker"
    columns = ("speaker_sim", "speaker_sim_centroid", "speaker_sim_other")

    def __init__(self, encoder: SpeakerEncoder | None = None) -> None:
        self.encoder = encoder or SpeakerEncoder()
        self._reference: dict[str, np.ndarray] = {}
        self._generated: dict[str, np.ndarray] = {}
        self._speaker: dict[str, str] = {}

    def score(self, utterance: Utterance) -> Row:
        """Embed both sides; the centroid columns are filled in by `finish`."""
        entry = utterance.entry
        reference = self.encoder.embed(utterance.reference)
        generated = reference if utterance.is_ceiling else self.encoder.embed(utterance.generated)
        self._reference[entry.id] = reference
        self._generated[entry.id] = generated
        self._speaker[entry.id] = entry.speaker
        return {
            "speaker_sim": cosine(generated, reference),
            "speaker_sim_centroid": float("nan"),
            "speaker_sim_other": float("nan"),
        }

    def finish(self, rows: list[Row]) -> dict[str, Any]:
        """Similarity to the own speaker's centroid (leaving the utterance out) and the others'."""
        by_speaker: dict[str, list[str]] = defaultdict(list)
        for uid, speaker in self._speaker.items():
            by_speaker[speaker].append(uid)
        sums = {
            s: np.sum([self._reference[u] for u in ids], axis=0) for s, ids in by_speaker.items()
        }
        for row in rows:
            uid = row["id"]
            if uid not in self._generated:
                continue
            own, generated = self._speaker[uid], self._generated[uid]
            count = len(by_speaker[own])
            if count > 1:  # leave this utterance's own ground truth out
                row["speaker_sim_centroid"] = cosine(generated, sums[own] - self._reference[uid])
            others = [cosine(generated, total) for s, total in sums.items() if s != own]
            row["speaker_sim_other"] = float(np.mean(others)) if others else float("nan")
        return {"speakers": len(by_speaker)}
