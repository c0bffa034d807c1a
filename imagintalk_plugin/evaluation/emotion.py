"""Emotion agreement: a small prosodic classifier fitted on the corpus's own ground truth.

What it is, honestly: not a trained speech-emotion model. The corpus's voices express emotion
through espeak-ng's pitch level, pitch range and speed, so four prosodic features measured on
the audio separate the labels: median F0 and F0 spread (10th-90th percentile) in semitones,
speaking rate (words of the transcript per second of active speech, log) and mean voiced
energy (dB). Each is taken relative to a speaker baseline (the median over emotions of each
emotion's median), then scaled by the features' spread across the fitted set. One centroid
per emotion; a clip gets the nearest centroid's label.

The classifier is fitted on the ground-truth audio of the whole manifest (up to 20 lines per
speaker and emotion), so the `--ground-truth` ceiling measures it on lines it was fitted on:
an optimistic upper bound. On real actors' speech this would not carry over.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from imagintalk_plugin.audio import active_span, load_audio, pitch_track
from imagintalk_plugin.core.manifest import ManifestEntry
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.evaluation.judge import Judge, Row, Utterance

FEATURES = ("f0_median_st", "f0_spread_st", "log_rate", "energy_db")
PER_CLASS = 20
MIN_OWN_BASELINE = 5


def prosodic_features(samples: np.ndarray, words: int) -> np.ndarray:
    """(4,) raw features of one clip: F0 median and spread (semitones re 100 Hz), log words per
    second of active speech, mean energy of voiced frames (dB). NaN where unmeasurable."""
    track = pitch_track(samples)
    f0 = track.f0_hz[track.voiced].astype(np.float64)
    start, end = active_span(samples)
    rate = np.log(words / (end - start)) if words and end > start else np.nan
    if len(f0) < 5:
        return np.array([np.nan, np.nan, rate, np.nan])
    semitones = 12.0 * np.log2(f0 / 100.0)
    p10, p50, p90 = np.percentile(semitones, [10, 50, 90])
    return np.array([p50, p90 - p10, rate, float(np.mean(track.energy_db[track.voiced]))])


def baseline(features: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """A speaker's reference point: the median over emotions of each emotion's median (so the
    mix of emotions in a set does not move it)."""
    medians = [
        np.nanmedian(features[[i for i, lab in enumerate(labels) if lab == label]], axis=0)
        for label in sorted(set(labels))
    ]
    return np.nanmedian(np.stack(medians), axis=0)


class EmotionClassifier:
    """Nearest centroid over speaker-normalised prosodic features."""

    def __init__(self) -> None:
        self.baselines: dict[str, np.ndarray] = {}
        self.emotions: dict[str, set[str]] = {}
        self.scale = np.ones(len(FEATURES))
        self.centroids: dict[str, np.ndarray] = {}

    def fit(self, features: list[np.ndarray], speakers: list[str], labels: list[str]) -> None:
        """Learn each speaker's baseline, the feature scale and one centroid per label."""
        table = np.stack(features)
        for speaker in set(speakers):
            mine = [i for i, s in enumerate(speakers) if s == speaker]
            self.baselines[speaker] = baseline(table[mine], [labels[i] for i in mine])
            self.emotions[speaker] = {labels[i] for i in mine}
        relative = np.stack([f - self.baselines[s] for f, s in zip(table, speakers, strict=True)])
        spread = np.nanstd(relative, axis=0)
        self.scale = np.where(np.isfinite(spread) & (spread > 1e-6), spread, 1.0)
        for label in sorted(set(labels)):
            rows = relative[[i for i, lab in enumerate(labels) if lab == label]] / self.scale
            self.centroids[label] = np.nanmean(rows, axis=0)

    def predict(self, features: np.ndarray, reference: np.ndarray) -> str:
        """The nearest emotion centroid of features taken relative to a speaker's baseline
        ("" if nothing is measurable)."""
        point = (features - reference) / self.scale
        usable = np.isfinite(point)
        if not usable.any() or not self.centroids:
            return ""
        distances = {
            label: float(np.sum((point[usable] - centre[usable]) ** 2))
            for label, centre in self.centroids.items()
        }
        return min(distances, key=lambda label: distances[label])


def fit_set(entries: Sequence[ManifestEntry], per_class: int = PER_CLASS) -> list[ManifestEntry]:
    """Up to `per_class` entries per (speaker, emotion), in manifest order."""
    taken: dict[tuple[str, str], int] = defaultdict(int)
    chosen = []
    for entry in entries:
        key = (entry.speaker, entry.emotion)
        if taken[key] < per_class:
            taken[key] += 1
            chosen.append(entry)
    return chosen


class EmotionJudge(Judge):
    """Does the generated line carry the labelled emotion, as the prosodic classifier hears it?

    Generated features are taken relative to the generated voice's own baseline (its lines of
    that speaker, when they cover every emotion the speaker has and number at least
    `MIN_OWN_BASELINE`), so a voice that is off in pitch or speed overall but varies with
    emotion as it should still agrees; otherwise relative to the ground truth's baseline.
    """

    name = "emotion"
    columns = ("emotion_pred", "emotion_match")

    def __init__(self, all_entries: Sequence[ManifestEntry]) -> None:
        self.all_entries = list(all_entries)
        self.classifier = EmotionClassifier()
        self.active = False
        self._measured: list[tuple[str, str, str, np.ndarray]] = []

    def fit(self, entries: Sequence[ManifestEntry]) -> Job[None]:
        """Fit on the manifest's ground truth; inactive when it holds fewer than two emotions."""
        chosen = fit_set(self.all_entries)
        if len({e.emotion for e in chosen}) < 2:
            return
        features = []
        for i, entry in enumerate(chosen):
            features.append(prosodic_features(load_audio(entry.audio), len(entry.text.split())))
            yield Progress("emotion fit", i + 1, len(chosen), unit="utt")
        labels = [e.emotion for e in chosen]
        with warnings.catch_warnings():  # all-NaN feature columns (silent clips) stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            self.classifier.fit(features, [e.speaker for e in chosen], labels)
        self.active = True

    def score(self, utterance: Utterance) -> Row:
        """Measure the generated clip; the label is decided in `finish` (needs the baseline)."""
        entry = utterance.entry
        if self.active:
            features = prosodic_features(utterance.generated, len(entry.text.split()))
            self._measured.append((entry.id, entry.speaker, entry.emotion, features))
        return {"emotion_pred": "", "emotion_match": float("nan")}

    def _references(self) -> tuple[dict[str, np.ndarray], list[str]]:
        """Baseline per speaker for the generated side, and the speakers using their own."""
        references, own = dict(self.classifier.baselines), []
        for speaker in sorted({m[1] for m in self._measured}):
            mine = [m for m in self._measured if m[1] == speaker]
            labels = [m[2] for m in mine]
            needed = self.classifier.emotions.get(speaker, set())
            if len(mine) >= MIN_OWN_BASELINE and needed and needed <= set(labels):
                references[speaker] = baseline(np.stack([m[3] for m in mine]), labels)
                own.append(speaker)
        return references, own

    def finish(self, rows: list[Row]) -> dict[str, Any]:
        """Labels for every measured clip, confusion counts (labelled -> predicted)."""
        if not self.active:
            return {"emotion": "not judged: the manifest labels fewer than two emotions"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            references, own = self._references()
        predicted = {
            uid: self.classifier.predict(features, references[speaker])
            for uid, speaker, _, features in self._measured
            if speaker in references
        }
        confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in rows:
            label = predicted.get(row["id"], "")
            if label:
                row["emotion_pred"] = label
                row["emotion_match"] = float(label == row["emotion"])
                confusion[row["emotion"]][label] += 1
        return {
            "emotion_confusion": {k: dict(v) for k, v in sorted(confusion.items())},
            "emotion_own_baseline_speakers": own,
        }
