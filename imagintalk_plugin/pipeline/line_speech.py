"""A clip's windows read for a known line (ADR): the lips give the timing, the line the words.

The lip aligner reads every window of the clip as usual (the refiner is not needed), its
posteriors are joined over the whole clip (averaged where windows overlap), the line is placed
on them (`line_alignment`), and each window's units become the line's units at its steps.
The Style-DiT then speaks them with the window's own lip features, face and expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from imagintalk_plugin.core.progress import Job
from imagintalk_plugin.pipeline.dub_models import DubModels
from imagintalk_plugin.pipeline.line_alignment import LineFit, align_line
from imagintalk_plugin.pipeline.line_units import line_units, rest_weights
from imagintalk_plugin.pipeline.window_batches import (
    RefineSettings,
    WindowInput,
    WindowReading,
    read_windows,
)
from imagintalk_plugin.runtime.stages import Stages


def clip_posteriors(
    steps: int, windows: Sequence[WindowInput], readings: Sequence[WindowReading]
) -> np.ndarray:
    """(steps, K) log-posteriors over the clip: each window's, averaged where they overlap;
    steps no window read (no face there) get a flat posterior."""
    k = next(r.log_probs.shape[1] for r in readings if r.log_probs is not None)
    total = np.zeros((steps, k), np.float64)
    seen = np.zeros(steps, np.float64)
    for w, r in zip(windows, readings, strict=True):
        if r.log_probs is None:
            continue
        start = 2 * w.start
        total[start : start + len(r.log_probs)] += np.exp(r.log_probs)
        seen[start : start + len(r.log_probs)] += 1
    flat = seen == 0
    total[flat] = 1.0 / k
    seen[flat] = 1.0
    return np.log(np.maximum(total / seen[:, None], 1e-12)).astype(np.float32)


def line_readings(
    models: DubModels,
    stages: Stages,
    windows: Sequence[WindowInput],
    line: str,
    refine: RefineSettings,
    where: tuple[int, int, str, str],
    own_voice: bool = True,
) -> Job[tuple[list[WindowReading], LineFit]]:
    """Job: the windows (all of one clip, in order) read, with the line's units in place of
    the refined ones; and how the line fits the clip.

    `own_voice` False (the take's identity is replaced, so `dit_voice` speaks it) keeps the
    reference voice's units: `dit_voice` learned from units said by other voices than the one
    it makes (`training/acoustic_stages`), and the line table's recorded units would carry the
    corpus speakers' timbre into the cast voice."""
    said = line_units(line, models.semantic.units)  # a bad line fails before the aligner runs
    skip_refiner = replace(refine, passes=0)
    readings = yield from read_windows(models, stages, windows, skip_refiner, where, True)
    track = windows[0].track
    steps = 2 * track.num_frames
    log_probs = clip_posteriors(steps, windows, readings)
    valid = np.repeat(track.valid, 2)[:steps]
    table = models.line_table.table if models.line_table is not None and own_voice else None
    fit = align_line(said, log_probs, rest_weights(models.semantic.units), valid, table)
    placed = [
        replace(
            r,
            refined=fit.units[2 * w.start : 2 * w.stop],
            error=np.zeros(len(r.units), np.float32),
            log_probs=None,
        )
        for w, r in zip(windows, readings, strict=True)
    ]
    return placed, fit
