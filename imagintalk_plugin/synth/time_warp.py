"""Speech moved onto another utterance's word timing (Praat PSOLA), pitch and voice kept.

The Style-DiT's content audio is a clip's words said again by another voice, and its units
must stay in step with the clip's own codec tokens. espeak-ng says the same words at the same
speed with the same timing in any voice, so an espeak-ng clip needs nothing more. A Kokoro
clip's timing comes from its voice style (Kokoro's graph takes no durations), so the words
said again by espeak-ng run out of step with it. `warp_to_spans` stretches each word, each
pause and the rests before and after onto the clip's own spans: a piecewise-constant
Praat DurationTier and overlap-add resynthesis.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

MIN_SPAN_S = 0.01  # a word or pause shorter than this on either side is merged with the next
FACTOR_RANGE = (0.2, 5.0)  # how far one span may be stretched or squeezed
IN_STEP_S = 0.01  # boundaries all within this: already in step, left as it is
EDGE_S = 1e-4  # the two points either side of a boundary in the duration tier


def boundaries(spans: Sequence[tuple[float, float]], total: float) -> list[float]:
    """0, each word's start and end (pauses become spans of their own), and `total`."""
    times = [0.0]
    for start, end in spans:
        times += [start, end]
    return [*times, total]


def merged_boundaries(source: list[float], target: list[float]) -> tuple[list[float], list[float]]:
    """Both boundary lists without the spans too short on either side (kept in pairs)."""
    kept_source, kept_target = [source[0]], [target[0]]
    for s, t in zip(source[1:-1], target[1:-1], strict=True):
        if s - kept_source[-1] >= MIN_SPAN_S and t - kept_target[-1] >= MIN_SPAN_S:
            kept_source.append(s)
            kept_target.append(t)
    kept_source.append(source[-1])
    kept_target.append(target[-1])
    short_end = min(kept_source[-1] - kept_source[-2], kept_target[-1] - kept_target[-2])
    if short_end < MIN_SPAN_S and len(kept_source) > 2:  # it joins the span before
        del kept_source[-2], kept_target[-2]
    return kept_source, kept_target


def warp_to_spans(
    samples: np.ndarray,
    rate: int,
    source_spans: Sequence[tuple[float, float]],
    target_spans: Sequence[tuple[float, float]],
    length: int,
) -> np.ndarray:
    """`samples`, whose words lie at `source_spans` (seconds), stretched so that they lie at
    `target_spans`, in `length` samples (cut or zero-padded at the end).

    Raises ValueError when the two lists do not time the same number of words.
    """
    if len(source_spans) != len(target_spans):
        raise ValueError(f"{len(source_spans)} words timed against {len(target_spans)}")
    samples = np.asarray(samples, np.float32)
    source = boundaries(source_spans, len(samples) / rate)
    target = boundaries(target_spans, length / rate)
    if not source_spans or all(
        abs(s - t) <= IN_STEP_S for s, t in zip(source[:-1], target[:-1], strict=True)
    ):
        return fit_length(samples, length)
    source, target = merged_boundaries(source, target)
    return fit_length(_psola(samples, rate, source, target), length)


def _psola(samples: np.ndarray, rate: int, source: list[float], target: list[float]) -> np.ndarray:
    """Overlap-add resynthesis under a duration tier that is constant over each span."""
    import parselmouth
    from parselmouth.praat import call

    sound = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=rate)
    manipulation = call(sound, "To Manipulation", 0.01, 75, 600)
    tier = call("Create DurationTier", "spans", 0, sound.xmax)
    low, high = FACTOR_RANGE
    for (s0, s1), (t0, t1) in zip(pairwise(source), pairwise(target), strict=True):
        factor = float(np.clip((t1 - t0) / (s1 - s0), low, high))
        call(tier, "Add point", s0 + EDGE_S, factor)
        call(tier, "Add point", max(s0 + 2 * EDGE_S, s1 - EDGE_S), factor)
    call([manipulation, tier], "Replace duration tier")
    warped = call(manipulation, "Get resynthesis (overlap-add)")
    return np.asarray(warped.values[0], np.float32)


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad to `length` samples (float32)."""
    out = np.zeros(length, np.float32)
    out[: min(length, len(samples))] = samples[:length]
    return out
