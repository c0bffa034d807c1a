"""Sync: does the generated speech's loudness follow the mouth in the picture?

The mouth-opening curve comes from our own face front-end (dlib landmarks through
`frontend.prepare.prepare_range`, cached; inner-lip gap from `frontend.expressions`), one value
per video frame. The audio side is the speech-band (300-3000 Hz) energy of each frame's span
of samples, in dB floored 40 dB under the peak. The two are cross-correlated over lags of up
to +-10 frames; the lag is where the correlation peaks, refined between frames by a parabola.

Sign: a positive lag means the audio comes later than the mouth. On real GRID footage with its
own audio the lag is within a frame and the peak correlation clearly positive (0.3-0.6);
frames where no face was found are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.audio import SAMPLE_RATE
from imagintalk_plugin.core.errors import NoFaceError, VideoReadError
from imagintalk_plugin.evaluation.judge import Judge, Row, Utterance, pearson

MAX_LAG_FRAMES = 10
BAND_HZ = (300.0, 3000.0)
FLOOR_DB = 40.0


def speech_envelope(
    samples: np.ndarray, fps: float, frames: int | None = None, window_s: float | None = None
) -> np.ndarray:
    """Speech-band energy (dB, floored) of each video frame's samples: (T,) float64.

    `window_s` longer than a frame centres a longer Hann window on each frame's span (a
    smoother envelope at a fine frame rate); by default the window is the frame's span.
    """
    samples = np.asarray(samples, np.float64)
    span = SAMPLE_RATE / fps
    count = int(len(samples) // span) if frames is None else frames
    size = round(span if window_s is None else max(window_s * SAMPLE_RATE, span))
    if size > round(span):
        lead = (size - round(span)) // 2
        samples = np.concatenate([np.zeros(lead), samples, np.zeros(size - round(span) - lead)])
    freqs = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    window = np.hanning(size)
    energy = np.full(count, 1e-10)
    for k in range(count):
        first = round(k * span)
        chunk = samples[first : first + size]
        if len(chunk) == size:
            energy[k] += np.sum(np.abs(np.fft.rfft(chunk * window))[band] ** 2)
    db = 10.0 * np.log10(energy)
    return np.maximum(db, db.max() - FLOOR_DB) if count else db


def lag_correlations(
    envelope: np.ndarray, mouth: np.ndarray, valid: np.ndarray, max_lag: int = MAX_LAG_FRAMES
) -> np.ndarray:
    """Pearson correlation of envelope[t + lag] with mouth[t] for lag = -max_lag..max_lag."""
    count = min(len(envelope), len(mouth))
    out = np.full(2 * max_lag + 1, np.nan)
    for i, lag in enumerate(range(-max_lag, max_lag + 1)):
        t = np.arange(max(0, -lag), min(count, count - lag))
        keep = t[valid[t]]
        out[i] = pearson(envelope[keep + lag], mouth[keep])
    return out


def peak_lag(curve: np.ndarray) -> tuple[float, float]:
    """(lag in frames, refined between frames; peak correlation) of a lag curve."""
    if np.all(np.isnan(curve)):
        return float("nan"), float("nan")
    max_lag = (len(curve) - 1) // 2
    i = int(np.nanargmax(curve))
    shift = 0.0
    if 0 < i < len(curve) - 1 and np.isfinite(curve[i - 1 : i + 2]).all():
        a, b, c = curve[i - 1], curve[i], curve[i + 1]
        bend = a - 2 * b + c
        shift = 0.5 * (a - c) / bend if bend < 0 else 0.0
    return float(i - max_lag + shift), float(curve[i])


@dataclass(frozen=True, eq=False)
class MouthCurve:
    """Inner-lip gap per video frame, and where the face was found."""

    opening: np.ndarray  # (T,)
    valid: np.ndarray  # (T,) bool
    fps: float


def mouth_curve(video: Path, clip_id: str) -> MouthCurve:
    """The mouth opening of the speaking face in a whole video, through the front-end cache."""
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.frontend.expressions import EXPRESSION_FEATURES
    from imagintalk_plugin.frontend.prepare import prepare_range

    track = drive(prepare_range(video, 0.0, None, clip_id=clip_id)).track
    opening = track.expressions[:, EXPRESSION_FEATURES.index("mouth_open")].astype(np.float64)
    return MouthCurve(opening, track.valid.astype(bool), track.fps)


class SyncJudge(Judge):
    """Lag and correlation between generated speech energy and the video's mouth opening."""

    name = "sync"
    columns = ("sync_lag_frames", "sync_corr")

    def __init__(self) -> None:
        self.curves: dict[str, np.ndarray] = {}
        self.failures: dict[str, str] = {}

    def score(self, utterance: Utterance) -> Row:
        """Cross-correlate; a video without a usable face gives NaN and a note."""
        entry = utterance.entry
        try:
            mouth = mouth_curve(entry.video, entry.id)
        except (NoFaceError, VideoReadError) as err:
            self.failures[entry.id] = str(err)
            return {"sync_lag_frames": float("nan"), "sync_corr": float("nan")}
        envelope = speech_envelope(utterance.generated, mouth.fps)
        curve = lag_correlations(envelope, mouth.opening, mouth.valid)
        self.curves[entry.id] = curve
        lag, corr = peak_lag(curve)
        return {"sync_lag_frames": lag, "sync_corr": corr}

    def finish(self, rows: list[Row]) -> dict[str, Any]:
        """The pooled lag (peak of the mean correlation curve over all utterances), the median
        lag and the share of utterances within one frame.

        One short clip's lag can land on a secondary peak of its syllable rhythm (a few
        frames off at a similar correlation); the pooled and median lags are the robust
        figures.
        """
        summary: dict[str, Any] = {"sync_failures": dict(self.failures)}
        if self.curves:
            mean_curve = np.nanmean(np.stack(list(self.curves.values())), axis=0)
            lag, corr = peak_lag(mean_curve)
            lags = np.array([peak_lag(c)[0] for c in self.curves.values()])
            lags = lags[np.isfinite(lags)]
            summary.update(
                sync_pooled_lag_frames=lag,
                sync_pooled_corr=corr,
                sync_median_lag_frames=float(np.median(lags)) if len(lags) else float("nan"),
                sync_within_one_frame=float(np.mean(np.abs(lags) <= 1.0)) if len(lags) else 0.0,
                sync_lag_curve=[float(v) for v in mean_curve],
            )
        return summary
