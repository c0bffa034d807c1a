"""The "rendered" face -> voice rule: projections of the descriptor the front-end reads from video.

The corpus's first rule (`voices.voice_from_face`, "still") projects the still face's dlib
descriptor on random directions. A model only ever sees the face rendered: each clip's
descriptor is offset from the still face's and scatters around its own mean, so one clip gives
the speaker's voice variant for about half of the clips (`research/face_voice_ceiling.py`).
This rule is built to be told from one clip:
- the descriptor is whitened by the within-speaker scatter of rendered clips (directions that
  rendering moves a lot count little);
- the projections lie in the span of the directions along which the fitting corpus's training
  speakers differ most against that scatter (linear discriminant analysis), mixed by a seeded
  random rotation so each one spreads alike;
- each projection is standardised over the fitting corpus's training speakers.
A speaker's voice is the rule on its rendered descriptor (`synth.probe`), not its still face.
The numbers are fitted once, by `scripts/fit_voice_rule.py`, and shipped as
`rendered_voice_rule.json`; the same file always gives the same voices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.errors import ModelLoadError

RULE_FILE = Path(__file__).with_name("rendered_voice_rule.json")
RULE_VERSION = 1
RIDGE = 0.1  # added to the scatter's eigenvalues, as a share of their mean


@dataclass(frozen=True, eq=False)
class ProjectionRule:
    """Standardised linear projections of a face descriptor."""

    projection: np.ndarray  # (P, D)
    mean: np.ndarray  # (P,)
    spread: np.ndarray  # (P,)

    def project(self, embedding: np.ndarray) -> np.ndarray:
        """(P,) standardised projections of one (D,) descriptor."""
        return (self.projection @ np.asarray(embedding, np.float64) - self.mean) / self.spread

    @staticmethod
    def fit(clips_by_speaker: dict[str, np.ndarray], projections: int, seed: int) -> ProjectionRule:
        """Fit on {speaker: (clips, D) rendered descriptors} of training speakers (>= 2)."""
        groups = [np.asarray(x, np.float64) for x in clips_by_speaker.values()]
        if len(groups) < 2 or any(len(x) < 2 for x in groups):
            raise ValueError("need at least two speakers with at least two clips each")
        dim = groups[0].shape[1]
        centred = np.concatenate([x - x.mean(0) for x in groups])
        scatter = centred.T @ centred / len(centred)
        values, vectors = np.linalg.eigh(scatter + RIDGE * np.trace(scatter) / dim * np.eye(dim))
        whiten = vectors @ np.diag(values**-0.5) @ vectors.T
        means = np.array([x.mean(0) for x in groups])
        between = np.atleast_2d(np.cov(means @ whiten, rowvar=False))
        _, axes = np.linalg.eigh(between)
        span = axes[:, ::-1][:, :projections]  # (D, P): most discriminative first
        rotation = np.random.default_rng(seed).standard_normal((projections, span.shape[1]))
        rotation /= np.linalg.norm(rotation, axis=1, keepdims=True)
        projection = rotation @ span.T @ whiten
        z = means @ projection.T
        return ProjectionRule(projection, z.mean(0), z.std(0))

    def save(self, path: Path, provenance: dict[str, object]) -> None:
        """Write as JSON, with where it was fitted."""
        data = {
            "version": RULE_VERSION,
            **provenance,
            "mean": [round(float(v), 8) for v in self.mean],
            "spread": [round(float(v), 8) for v in self.spread],
            "projection": [[round(float(v), 8) for v in row] for row in self.projection],
        }
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    @staticmethod
    def load(path: Path) -> ProjectionRule:
        """Read a file `save` wrote; another version or shape is a `ModelLoadError`."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != RULE_VERSION:
            raise ModelLoadError(path, f"voice rule version {data.get('version')}")
        projection = np.array(data["projection"], np.float64)
        mean, spread = np.array(data["mean"], np.float64), np.array(data["spread"], np.float64)
        if projection.ndim != 2 or mean.shape != (len(projection),) or spread.shape != mean.shape:
            raise ModelLoadError(path, "inconsistent voice rule shapes")
        return ProjectionRule(projection, mean, spread)


@cache
def rendered_rule() -> ProjectionRule:
    """The shipped rendered-face rule."""
    return ProjectionRule.load(RULE_FILE)
