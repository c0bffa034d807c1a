"""Pictures of the evaluation a person would rather look at than a table (PNG, matplotlib Agg).

Figures are built with `matplotlib.figure.Figure` and the Agg canvas directly: no pyplot, no
global backend, never Qt.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.evaluation.prosody import F0Pair
from imagintalk_plugin.evaluation.report import EvalReport


def _finite(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


def plot_f0(contours: list[F0Pair], path: Path) -> Path:
    """F0 of the generated speech over the ground truth's, one panel per utterance."""
    columns = 2 if len(contours) > 1 else 1
    rows = max(1, -(-len(contours) // columns))
    figure = _figure(6.0 * columns, 2.4 * rows)
    for i, pair in enumerate(contours):
        axes = figure.add_subplot(rows, columns, i + 1)
        for times, f0, style, label in (
            (pair.reference_times, pair.reference_hz, {"color": "black", "lw": 2.0}, "truth"),
            (pair.generated_times, pair.generated_hz, {"color": "tab:red", "lw": 1.2}, "generated"),
        ):
            axes.plot(times, np.where(f0 > 0, f0, np.nan), label=label, **style)
        axes.set_title(f"{pair.utterance_id}: {pair.text}", fontsize=9, loc="left")
        axes.set_xlabel("seconds")
        axes.set_ylabel("F0 (Hz)")
        axes.grid(alpha=0.3)
        if i == 0:
            axes.legend(fontsize=8, loc="upper right")
    return _save(figure, path)


def plot_by_speaker(report: EvalReport, path: Path) -> Path:
    """WER per speaker, one bar per text set (GRID, free), with each set's corpus WER."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in report.rows:
        if _finite(row.get("wer")):
            groups[(str(row["speaker"]), str(row["text_set"]))].append(row["wer"])
    names = sorted({speaker for speaker, _ in groups})
    sets = sorted({text_set for _, text_set in groups})
    figure = _figure(max(4.0, 0.7 * len(names) * len(sets) + 2.0), 3.5)
    axes = figure.add_subplot(1, 1, 1)
    width = 0.8 / len(sets)
    x = np.arange(len(names))
    for i, text_set in enumerate(sets):
        heights = [100 * np.mean(groups.get((s, text_set), [np.nan])) for s in names]
        bars = axes.bar(x + (i - (len(sets) - 1) / 2) * width, heights, width, label=text_set)
        corpus = report.summary.get(f"wer_corpus_{text_set}")
        if _finite(corpus):
            axes.axhline(100 * corpus, color=bars.patches[0].get_facecolor(), lw=1, ls="--")
    axes.set_xticks(x, names, rotation=45 if len(names) > 8 else 0)
    axes.set_ylabel("WER (%)")
    axes.set_title("Word error rate by speaker (PocketSphinx; dashed: corpus WER)", fontsize=10)
    axes.legend(fontsize=8, title="text set", title_fontsize=8)
    return _save(figure, path)


def plot_speaker_similarity(report: EvalReport, path: Path) -> Path:
    """Per speaker: similarity to the own voice vs to the other voices."""
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in report.rows:
        own, other = row.get("speaker_sim_centroid"), row.get("speaker_sim_other")
        if _finite(own) and _finite(other):
            groups[str(row["speaker"])].append((own, other))
    names = sorted(groups)
    figure = _figure(max(4.0, 0.6 * len(names) + 2.0), 3.5)
    axes = figure.add_subplot(1, 1, 1)
    for i, name in enumerate(names):
        own, other = np.array(groups[name]).T
        axes.scatter(np.full(len(own), i - 0.1), own, color="tab:green", s=14)
        axes.scatter(np.full(len(other), i + 0.1), other, color="tab:gray", s=14)
    axes.scatter([], [], color="tab:green", label="own voice")
    axes.scatter([], [], color="tab:gray", label="other voices")
    axes.set_xticks(np.arange(len(names)), names, rotation=45 if len(names) > 8 else 0)
    axes.set_ylabel("cosine similarity")
    axes.set_title("Speaker similarity (Resemblyzer)", fontsize=10)
    axes.legend(fontsize=8)
    return _save(figure, path)


def plot_sync(curve: list[float], path: Path) -> Path:
    """The pooled correlation of speech energy with mouth opening against the lag."""
    lags = np.arange(len(curve)) - (len(curve) - 1) // 2
    figure = _figure(5.0, 3.2)
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(lags, np.asarray(curve, float), marker="o")
    axes.axvline(0, color="black", lw=0.8)
    axes.set_xlabel("lag (video frames; audio later if positive)")
    axes.set_ylabel("correlation")
    axes.set_title("Speech energy vs mouth opening", fontsize=10)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def write_plots(report: EvalReport, contours: list[F0Pair], stem: Path) -> list[Path]:
    """Every plot the report has data for, as `<stem>_<name>.png`; the paths written."""
    written = []
    if contours:
        written.append(plot_f0(contours, stem.with_name(f"{stem.name}_f0.png")))
    if any(_finite(r.get("wer")) for r in report.rows):
        written.append(plot_by_speaker(report, stem.with_name(f"{stem.name}_wer_by_speaker.png")))
    if any(
        _finite(r.get("speaker_sim_centroid")) and _finite(r.get("speaker_sim_other"))
        for r in report.rows
    ):  # one speaker (a real corpus): no other voices to set against
        target = stem.with_name(f"{stem.name}_speaker_similarity.png")
        written.append(plot_speaker_similarity(report, target))
    curve = report.summary.get("sync_lag_curve")
    if curve:
        written.append(plot_sync(curve, stem.with_name(f"{stem.name}_sync.png")))
    return written
