"""Lag: how far in time the generated speech sits from the clip's own recording.

Both sides become loudness envelopes at 100 Hz (10 ms frames, the finest step that matters
against 40 ms video frames): the speech-band (300-3000 Hz) energy in 25 ms Hann windows, in dB
floored 40 dB under the clip's peak, as the mouth-sync judge measures speech
(`sync.speech_envelope`). dB follows loudness roughly; the band holds most of speech's
loudness and leaves out a room's rumble and a vocoder's hiss; the floor makes room noise in
the pauses and digital silence read alike. Each envelope is then high-passed at 1 Hz (zero
phase, so no lag of its own): otherwise the one big step between silence and speech dominates,
and any GRID line correlates with any other at about 0.8; high-passed, unrelated lines of one
speaker reach about 0.4 at their best lag (their rhythm is alike) and the same loudness contour
in another voice (noise-vocoded) about 0.93.

The generated envelope is cross-correlated with the recording's (Pearson over the frames both
cover, `sync.lag_correlations`) over lags within +-200 ms; the lag is at the peak, refined
between frames by a parabola (`sync.peak_lag`). Sign: a positive lag means the generated speech
is late (it comes that many ms after the recording). A peak at the +-200 ms edge is not a
measured lag (the search ran out): such clips are counted in the summary.

Against itself (the ceiling) the lag is 0 and the correlation 1: a sanity check only.

`inside` is the share of the generated speech's energy (speech band, 10 ms frames) that falls
where the recording has speech: its frames within `SPEECH_RANGE_DB` of the recording's peak,
gaps under 150 ms closed and each span widened by 50 ms (a syllable's onset or release).
Speech where the actor's mouth rests scores below 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imagintalk_plugin.evaluation.judge import Judge, Row, Utterance
from imagintalk_plugin.evaluation.sync import lag_correlations, peak_lag, speech_envelope

FRAME_RATE_HZ = 100.0
WINDOW_S = 0.025
HIGHPASS_HZ = 1.0
MAX_LAG_MS = 200.0
ONE_VIDEO_FRAME_MS = 40.0
_FRAME_MS = 1000.0 / FRAME_RATE_HZ
_MIN_FRAMES = 30  # shorter than 0.3 s: no lag worth reporting
SPEECH_RANGE_DB = 30.0  # a recording's frame within 30 dB of its peak holds speech
_CLOSE_FRAMES, _WIDEN_FRAMES = 15, 5  # close gaps under 150 ms, widen spans by 50 ms


def loudness_envelope(samples: np.ndarray) -> np.ndarray:
    """(T,) speech-band loudness in dB every 10 ms, high-passed at 1 Hz (zero phase)."""
    from scipy.signal import butter, sosfiltfilt

    envelope = speech_envelope(samples, FRAME_RATE_HZ, window_s=WINDOW_S)
    if len(envelope) < _MIN_FRAMES:
        return envelope
    highpass = butter(2, HIGHPASS_HZ, "highpass", fs=FRAME_RATE_HZ, output="sos")
    return sosfiltfilt(highpass, envelope)


def envelope_lag(
    reference: np.ndarray, generated: np.ndarray, max_lag_ms: float = MAX_LAG_MS
) -> tuple[float, float, np.ndarray]:
    """(lag in ms, positive = generated later; correlation at the peak; the correlation of
    every lag from -max to +max in 10 ms steps) of two 16 kHz clips. NaN if unmeasurable."""
    max_lag = round(max_lag_ms / _FRAME_MS)
    ref, gen = loudness_envelope(reference), loudness_envelope(generated)
    if min(len(ref), len(gen)) < _MIN_FRAMES:
        return float("nan"), float("nan"), np.full(2 * max_lag + 1, np.nan)
    curve = lag_correlations(gen, ref, np.ones(len(ref), bool), max_lag)
    lag, corr = peak_lag(curve)
    return lag * _FRAME_MS, corr, curve


def speech_spans(reference: np.ndarray) -> np.ndarray:
    """(T,) bool at 100 Hz: where the recording has speech (see the module's `inside`)."""
    from scipy.ndimage import binary_closing, binary_dilation

    level = speech_envelope(reference, FRAME_RATE_HZ, window_s=WINDOW_S)
    if not len(level):
        return np.zeros(0, bool)
    speech = level >= level.max() - SPEECH_RANGE_DB
    speech = binary_closing(speech, np.ones(_CLOSE_FRAMES, bool))
    return binary_dilation(speech, np.ones(2 * _WIDEN_FRAMES + 1, bool))


def speech_inside(reference: np.ndarray, generated: np.ndarray) -> float:
    """Share of the generated speech-band energy inside the recording's speech spans."""
    spans = speech_spans(reference)
    energy = 10.0 ** (speech_envelope(generated, FRAME_RATE_HZ, window_s=WINDOW_S) / 10.0)
    energy = energy[: len(spans)]
    if not len(energy) or energy.sum() <= 0:
        return float("nan")
    return float(energy[spans[: len(energy)]].sum() / energy.sum())


class LagJudge(Judge):
    """Lag and correlation of the loudness envelopes, generated vs the clip's own recording."""

    name = "lag"
    columns = ("lag_ms", "lag_corr", "inside")

    def score(self, utterance: Utterance) -> Row:
        """Cross-correlate the two envelopes of one utterance; the share of speech inside."""
        lag, corr, _ = envelope_lag(utterance.reference, utterance.generated)
        inside = speech_inside(utterance.reference, utterance.generated)
        return {"lag_ms": lag, "lag_corr": corr, "inside": inside}

    def finish(self, rows: list[Row]) -> dict[str, Any]:
        """Median lag, median |lag|, share within one video frame (40 ms), mean correlation,
        and how many clips peaked at the edge of the search."""
        pairs = [(r.get("lag_ms"), r.get("lag_corr")) for r in rows]
        measured = np.array([(lag, c) for lag, c in pairs if _finite(lag) and _finite(c)])
        if not len(measured):
            return {"lag_clips": 0}
        lags, corrs = measured[:, 0], measured[:, 1]
        inside = np.array([r["inside"] for r in rows if _finite(r.get("inside"))])
        shares = {"inside_mean": float(inside.mean())} if len(inside) else {}
        return shares | {
            "lag_clips": len(lags),
            "lag_median_ms": float(np.median(lags)),
            "lag_abs_median_ms": float(np.median(np.abs(lags))),
            "lag_within_40ms": float(np.mean(np.abs(lags) <= ONE_VIDEO_FRAME_MS)),
            "lag_mean_corr": float(np.mean(corrs)),
            "lag_at_limit": int(np.sum(np.abs(lags) >= MAX_LAG_MS - 1e-6)),
        }


def _finite(value: Any) -> bool:
    return isinstance(value, float) and bool(np.isfinite(value))
