"""`imagintalk train line`: the line table ADR speaks known lines through (`pipeline/line_table`).

For every training clip with a transcript, the reference voice says the transcript
(`pipeline/line_units`), and dynamic time warping on the two renditions' unit features pairs
each of its steps with a step of the clip's recording. Counting which recorded unit meets which
reference unit gives P(recorded unit | reference unit). On the validation clips the stage
reports how often the table's best guess is the recorded unit, against taking the reference
voice's unit as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.nn.units import UnitExtractor
from imagintalk_plugin.pipeline.line_table import FOLDER, LineTable
from imagintalk_plugin.pipeline.line_units import REFERENCE_VOICE, line_units
from imagintalk_plugin.pipeline.semantic_models import load_units
from imagintalk_plugin.training.loops.corpus import SemanticCorpus, Utterance
from imagintalk_plugin.training.loops.distributed import DistributedContext, barrier
from imagintalk_plugin.training.request import TrainRequest, check_fresh, write_metrics


def paired_units(utterance: Utterance, units: UnitExtractor) -> tuple[np.ndarray, np.ndarray]:
    """(reference unit, recorded unit) at each step of the warping path between the clip's
    transcript said by the reference voice and its recording."""
    import librosa

    line = line_units(" ".join(utterance.words), units)
    said = line.samples
    ours, theirs = units.features(said).numpy(), units.features(utterance.audio).numpy()
    _, path = librosa.sequence.dtw(X=ours.T, Y=theirs.T, metric="euclidean")
    reference, recorded = units.unit_ids(said), units.unit_ids(utterance.audio)
    return reference[path[:, 0]], recorded[path[:, 1]]


def count_pairs(clips: list[Utterance], units: UnitExtractor) -> Job[np.ndarray]:
    """Job: (K, K) counts of reference unit -> recorded unit over the clips."""
    k = units.config.num_units
    counts = np.zeros((k, k), np.float64)
    for i, utterance in enumerate(clips):
        yield Progress("line table", i, len(clips), utterance.id, unit="clip")
        reference, recorded = paired_units(utterance, units)
        np.add.at(counts, (reference, recorded), 1.0)
    yield Progress("line table", len(clips), len(clips), unit="clip")
    return counts


def agreement(table: LineTable, counts: np.ndarray) -> dict[str, float]:
    """On held-out pairs: how often the table's best unit, or the reference unit itself, is
    the recorded one."""
    total = float(counts.sum())
    if total == 0:
        return {}
    best = table.table.argmax(axis=1)
    rows = np.arange(len(counts))
    return {
        "table_agreement": float(counts[rows, best].sum() / total),
        "identity_agreement": float(np.trace(counts) / total),
    }


def train_line(
    request: TrainRequest, preset: Any, corpus: SemanticCorpus, ctx: DistributedContext
) -> Job[dict[str, Any]]:
    """Fit RUN/line from the training clips' transcripts and recordings."""
    folder = request.out / FOLDER
    check_fresh(folder, request)
    metrics: dict[str, Any] = {}
    if ctx.is_main:
        units = load_units(request.out)
        train = [u for u in corpus.split("train") if u.words]
        valid = [u for u in corpus.split("valid") if u.words]
        if not train:
            from imagintalk_plugin.core.errors import UsageError

            raise UsageError(f"{request.data_label} has no training clips with a transcript")
        counts = yield from count_pairs(train, units)
        meta = {
            "preset": getattr(preset, "name", str(request.preset)),
            "data": request.data_label,
            "reference_voice": REFERENCE_VOICE.name,
            "clips": len(train),
        }
        table = LineTable.from_counts(counts, units.codebook_id, meta)
        held_out = yield from count_pairs(valid, units)
        metrics = {"clips": len(train), "pairs": int(counts.sum()), **agreement(table, held_out)}
        table.save(request.out)
        write_metrics(folder / "metrics.json", metrics)
    barrier(ctx)
    return metrics
