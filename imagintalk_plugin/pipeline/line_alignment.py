"""A known line's units placed in time on the clip's lips (ADR).

The lip aligner gives, for each 50 Hz step of the clip, a posterior over the speech units.
The line said by the reference voice (`line_units`) is a unit sequence with its own timing.
Dynamic time warping finds the monotonic path through both that the lips support best: each
step of the clip takes the line's unit the path puts there, so the line stretches and shrinks
to the mouth, starts when it opens and stops when it closes. The cost of a pairing is the
aligner's surprise at that unit (-log p), plus a term that keeps the line's words off steps the
aligner reads as rest (and its rests off steps it reads as speech), and a small price for each
step that holds or skips, so the line keeps its own rhythm where the lips do not say
otherwise.

A line that cannot fit (the words would have to run more than `MAX_STRETCH` times faster or
slower than the reference voice, or the lips show no speech) still gets the closest path, and
a warning that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imagintalk_plugin.pipeline.line_units import LineUnits

MAX_STRETCH = 2.0  # words more than 2x faster or slower than the reference voice: a warning
REST_WEIGHT = 2.0  # cost of a word on a step the lips read as rest (and of rest on speech)
MOVE_PRICE = 0.3  # cost of holding one of the line's steps, or of skipping one
MIN_SPEECH_S = 0.2  # lips with less speech than this "never move"


@dataclass(frozen=True, eq=False)
class LineFit:
    """Where the line landed on the clip (50 Hz steps) and how well it fits."""

    units: np.ndarray  # (T,) int64: the line's unit at each step of the clip
    speech: np.ndarray  # (T,) bool: the step carries one of the line's words
    source: np.ndarray  # (T,) int64: the line's step placed there
    stretch: float  # the clip's speech length over the reference voice's (1 = same pace)
    lips_speech_s: float  # seconds the lips read as speech
    warning: str | None  # why the fit is only the closest one, or None


def align_line(
    line: LineUnits,
    log_probs: np.ndarray,
    rest: np.ndarray,
    valid: np.ndarray | None = None,
    table: np.ndarray | None = None,
    lip_weight: float = 1.0,
) -> LineFit:
    """The line's units warped onto the clip's T steps and chosen there.

    `log_probs` (T, K) from the aligner; `rest` (K,) how much each unit is rest
    (`line_units.rest_weights`); `valid` (T,) False where no face was seen (rest there);
    `table` (K, K) P(unit of a real voice | unit of the reference voice), fitted on the corpus
    (`training/line_table.py`): with it, a step takes the unit that both the line (through
    the table) and the lips (weighted `lip_weight`) support; without it, the reference
    voice's own unit."""
    import librosa

    steps = len(log_probs)
    probs = np.exp(log_probs)
    rest_p = (probs @ rest).clip(0.0, 1.0)
    if valid is not None:
        rest_p = np.where(valid, rest_p, 1.0)
    agree = probs @ table.T if table is not None else probs  # (T, K): p(lips say the line's unit)
    surprise = -np.log(agree[:, line.units].T + 1e-6)  # (N, T)
    is_word = line.speech[:, None].astype(np.float32)
    cost = surprise + REST_WEIGHT * (is_word * rest_p[None] + (1 - is_word) * (1 - rest_p[None]))
    _, path = librosa.sequence.dtw(
        C=cost.astype(np.float64),
        step_sizes_sigma=np.array([[1, 1], [0, 1], [1, 0]]),
        weights_add=np.array([0.0, MOVE_PRICE, MOVE_PRICE]),
        weights_mul=np.array([1.0, 1.0, 1.0]),
    )
    source = np.full(steps, -1, np.int64)
    for j, t in path[::-1]:  # the first of the line's steps the path puts on each clip step
        if source[t] < 0:
            source[t] = j
    said = line.units[source]
    if table is None:
        units = said
    else:
        units = (lip_weight * log_probs + np.log(table[said] + 1e-9)).argmax(axis=1)
    speech = line.speech[source]
    lips_speech_s = float((rest_p < 0.5).sum()) / 50.0
    placed_s = float(speech.sum()) / 50.0
    stretch = placed_s / line.speech_s if line.speech_s > 0 else 1.0
    return LineFit(units, speech, source, stretch, lips_speech_s, _warning(line, lips_speech_s))


def _warning(line: LineUnits, lips_speech_s: float) -> str | None:
    if lips_speech_s < MIN_SPEECH_S:
        return "the mouth barely moves in this clip: the line is placed at the closest fit"
    pace = line.speech_s / lips_speech_s
    if pace > MAX_STRETCH:
        return (
            f"the line is long for this clip: said at its natural pace it needs "
            f"{line.speech_s:.1f} s, the mouth moves for {lips_speech_s:.1f} s (closest fit)"
        )
    if pace < 1 / MAX_STRETCH:
        return (
            f"the line is short for this clip: {line.speech_s:.1f} s of words for "
            f"{lips_speech_s:.1f} s of mouth movement (closest fit)"
        )
    return None
