"""The evaluation report: per-utterance rows, means (overall and per speaker), a text table, JSON.

NaN (a judge could not measure) is left out of means and written as null in the JSON.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.files import atomic_path

# Columns shown in the table, in order, with their headings and number formats.
TABLE_COLUMNS = (
    ("wer", "WER", "{:.1%}"),
    ("cer", "CER", "{:.1%}"),
    ("whisper_wer", "W-WER", "{:.1%}"),
    ("whisper_cer", "W-CER", "{:.1%}"),
    ("speaker_sim", "spk", "{:.3f}"),
    ("speaker_sim_centroid", "spk-own", "{:.3f}"),
    ("speaker_sim_other", "spk-other", "{:.3f}"),
    ("f0_rmse_hz", "F0 RMSE", "{:.1f}"),
    ("f0_corr", "F0 r", "{:.2f}"),
    ("vuv_error", "V/UV err", "{:.1%}"),
    ("energy_corr", "energy r", "{:.2f}"),
    ("emotion_match", "emotion", "{:.0%}"),
    ("stoi", "STOI", "{:.3f}"),
    ("estoi", "ESTOI", "{:.3f}"),
    ("mcd_db", "MCD dB", "{:.2f}"),
    ("sync_lag_frames", "lag fr", "{:+.2f}"),
    ("sync_corr", "sync r", "{:.2f}"),
    ("lag_ms", "lag ms", "{:+.0f}"),
    ("lag_corr", "env r", "{:.2f}"),
    ("inside", "inside", "{:.0%}"),
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def column_means(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean of every numeric column over the rows where it is finite."""
    values: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        for key, value in row.items():
            number = _number(value)
            if number is not None:
                values[key].append(number)
    return {key: sum(v) / len(v) for key, v in values.items() if v}


@dataclass
class EvalReport:
    """Everything `imagintalk eval` found, ready for JSON, a table and plots."""

    manifest: str
    generated: str
    judges: list[str]
    rows: list[dict[str, Any]]
    missing: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    seconds_per_utterance: dict[str, float] = field(default_factory=dict)

    @property
    def means(self) -> dict[str, float]:
        """Mean of each numeric column over all judged utterances."""
        return column_means(self.rows)

    def by_speaker(self) -> dict[str, dict[str, float]]:
        """Column means per speaker."""
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.rows:
            groups[str(row.get("speaker", ""))].append(row)
        return {speaker: column_means(rows) for speaker, rows in sorted(groups.items())}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (NaN as null)."""
        return _clean(
            {
                "manifest": self.manifest,
                "generated": self.generated,
                "judges": self.judges,
                "judged": len(self.rows),
                "missing": {"count": len(self.missing), "ids": self.missing},
                "unreadable": self.unreadable,
                "means": self.means,
                "summary": self.summary,
                "by_speaker": self.by_speaker(),
                "seconds_per_utterance": self.seconds_per_utterance,
                "rows": self.rows,
            }
        )

    def write_json(self, path: Path) -> Path:
        """Write the report atomically."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _clean(value.item())
    return value


def format_table(report: EvalReport) -> str:
    """Means per speaker and overall as an aligned text table, then the corpus figures."""
    means = report.means
    shown = [(key, head, fmt) for key, head, fmt in TABLE_COLUMNS if key in means]
    table = [["speaker", "n", *(head for _, head, _ in shown)]]
    groups = [*report.by_speaker().items(), ("all", means)]
    counts: dict[str, int] = defaultdict(int)
    for row in report.rows:
        counts[str(row.get("speaker", ""))] += 1
    counts["all"] = len(report.rows)
    for name, values in groups:
        cells = [fmt.format(values[key]) if key in values else "-" for key, _, fmt in shown]
        table.append([name, str(counts[name]), *cells])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in table
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.extend(_summary_lines(report))
    return "\n".join(lines)


def _summary_lines(report: EvalReport) -> list[str]:
    summary, out = report.summary, [""]
    for key, name in (("", "all"), ("_grid", "GRID"), ("_free", "free text")):
        if f"wer_corpus{key}" in summary:
            out.append(
                f"corpus WER {summary[f'wer_corpus{key}']:.1%}, "
                f"CER {summary[f'cer_corpus{key}']:.1%} ({name}: errors over reference words)"
            )
        if f"whisper_wer_corpus{key}" in summary:
            out.append(
                f"Whisper corpus WER {summary[f'whisper_wer_corpus{key}']:.1%}, "
                f"CER {summary[f'whisper_cer_corpus{key}']:.1%} ({name})"
            )
    if _number(summary.get("sync_pooled_lag_frames")) is not None:
        out.append(
            f"pooled sync lag {summary['sync_pooled_lag_frames']:+.2f} frames "
            f"(audio later if positive), correlation {summary['sync_pooled_corr']:.2f}; "
            f"median lag {summary['sync_median_lag_frames']:+.2f}, "
            f"{summary['sync_within_one_frame']:.0%} of lines within one frame"
        )
    if _number(summary.get("lag_median_ms")) is not None:
        at_limit = summary.get("lag_at_limit", 0)
        out.append(
            f"envelope lag vs the recording: median {summary['lag_median_ms']:+.0f} ms "
            f"(generated later if positive), median |lag| {summary['lag_abs_median_ms']:.0f} ms, "
            f"{summary['lag_within_40ms']:.0%} of lines within 40 ms; "
            f"mean envelope correlation {summary['lag_mean_corr']:.2f}"
            + (f"; {at_limit} at the 200 ms limit" if at_limit else "")
            + (
                f"; {summary['inside_mean']:.0%} of the speech energy where the recording speaks"
                if _number(summary.get("inside_mean")) is not None
                else ""
            )
        )
    if summary.get("sync_failures"):
        out.append(
            f"sync not judged (no usable face/video): {_ids(list(summary['sync_failures']))}"
        )
    if isinstance(summary.get("emotion"), str):
        out.append(f"emotion {summary['emotion']}")
    if report.missing:
        out.append(f"missing generated audio: {_ids(report.missing)}")
    if report.unreadable:
        out.append(f"unreadable generated audio: {_ids(sorted(report.unreadable))}")
    if report.seconds_per_utterance:
        timing = ", ".join(f"{k} {v:.2f}" for k, v in report.seconds_per_utterance.items())
        out.append(f"seconds per utterance: {timing}")
    return out if len(out) > 1 else []


def _ids(ids: list[str], shown: int = 8) -> str:
    """'N utterance(s): a, b, ...' with at most `shown` ids."""
    more = " ..." if len(ids) > shown else ""
    return f"{len(ids)} utterance(s): {', '.join(ids[:shown])}{more}"
