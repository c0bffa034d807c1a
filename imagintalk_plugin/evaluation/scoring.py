"""`imagintalk eval`: score generated speech against a corpus manifest's ground truth.

The generated folder holds `{id}.wav` per utterance (any rate, any channel count). Missing
files are listed in the report and the rest are judged; none at all is an error. With
`ground_truth=True` the manifest's own audio is judged against itself: the ceiling.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.audio import SAMPLE_RATE, load_audio
from imagintalk_plugin.core.errors import AudioFileError, OutputExistsError, UsageError
from imagintalk_plugin.core.manifest import ManifestEntry, read_manifest
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.evaluation.judge import Judge, Row, Utterance
from imagintalk_plugin.evaluation.report import EvalReport, format_table

JUDGES = ("wer", "speaker", "prosody", "emotion", "signal", "sync", "lag")
# judges that need an optional extra: chosen by name only, never part of "all"
OPTIONAL_JUDGES = ("whisper",)  # the `whisper` extra (faster-whisper, Whisper base)


def parse_judges(text: str | None) -> tuple[str, ...]:
    """Judge names from "wer,speaker,..." (None or "all": every judge but the optional ones,
    like "whisper", which are named), in the canonical order."""
    if text is None or text.strip() in ("", "all"):
        return JUDGES
    known = (*JUDGES, *OPTIONAL_JUDGES)
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(known))
    if unknown:
        raise UsageError(f"unknown judge(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return tuple(name for name in known if name in names)


def make_judges(names: Sequence[str], all_entries: Sequence[ManifestEntry]) -> list[Judge]:
    """The judges by name (their models load on first use)."""
    from imagintalk_plugin.evaluation.emotion import EmotionJudge
    from imagintalk_plugin.evaluation.envelope_lag import LagJudge
    from imagintalk_plugin.evaluation.intelligibility import IntelligibilityJudge
    from imagintalk_plugin.evaluation.prosody import ProsodyJudge
    from imagintalk_plugin.evaluation.signal_quality import SignalJudge
    from imagintalk_plugin.evaluation.speaker import SpeakerJudge
    from imagintalk_plugin.evaluation.sync import SyncJudge
    from imagintalk_plugin.evaluation.whisper import WhisperJudge

    made = {
        "wer": IntelligibilityJudge,
        "speaker": SpeakerJudge,
        "prosody": ProsodyJudge,
        "emotion": lambda: EmotionJudge(all_entries),
        "signal": SignalJudge,
        "sync": SyncJudge,
        "lag": LagJudge,
        "whisper": WhisperJudge,
    }
    return [made[name]() for name in names]


def find_generated(
    entries: Sequence[ManifestEntry], folder: Path
) -> tuple[dict[str, Path], list[str]]:
    """`{id}.wav` in `folder` for each entry: (found paths by id, missing ids)."""
    found, missing = {}, []
    for entry in entries:
        path = folder / f"{entry.id}.wav"
        if path.is_file():
            found[entry.id] = path
        else:
            missing.append(entry.id)
    return found, missing


def select(
    entries: list[ManifestEntry], split: str | None, limit: int | None, manifest: Path
) -> list[ManifestEntry]:
    """The entries of one split (all if None), the first `limit` of them."""
    if split is not None:
        chosen = [e for e in entries if e.split == split]
        if not chosen:
            present = ", ".join(sorted({e.split for e in entries}))
            raise UsageError(f"manifest '{manifest}' has no '{split}' utterances (has: {present})")
        entries = chosen
    if limit is not None:
        if limit < 1:
            raise UsageError(f"--limit must be at least 1, got {limit}")
        entries = entries[:limit]
    return entries


@dataclass
class EvalOutputs:
    """The report and the files written."""

    report: EvalReport
    json_path: Path | None = None
    plots: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """The table and where the report and plots went."""
        lines = [format_table(self.report)]
        if self.json_path is not None:
            lines.append(f"report: {self.json_path}")
        lines.extend(f"plot: {path}" for path in self.plots)
        return "\n".join(lines)


def _base_row(entry: ManifestEntry, reference: np.ndarray, generated: np.ndarray) -> Row:
    return {
        "id": entry.id,
        "speaker": entry.speaker,
        "emotion": entry.emotion,
        "text_set": entry.text_set,
        "split": entry.split,
        "text": entry.text,
        "duration_ref_s": len(reference) / SAMPLE_RATE,
        "duration_gen_s": len(generated) / SAMPLE_RATE,
    }


def _check_outputs(out: Path | None, force: bool) -> None:
    if out is None:
        return
    if out.exists() and not force:
        raise OutputExistsError(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write '{out}': {exc.strerror or exc}") from exc


def run_eval(
    manifest: str | Path,
    generated: str | Path | None = None,
    *,
    ground_truth: bool = False,
    out: str | Path | None = None,
    split: str | None = None,
    judges: Sequence[str] = JUDGES,
    limit: int | None = None,
    force: bool = False,
) -> Job[EvalOutputs]:
    """Job: judge the generated audio (or the ground truth itself) and write the report."""
    if ground_truth == (generated is not None):
        raise UsageError("give either a folder of generated audio or --ground-truth (not both)")
    manifest, out = Path(manifest), Path(out) if out is not None else None
    _check_outputs(out, force)
    if generated is not None and not Path(generated).is_dir():
        raise UsageError(f"generated audio folder '{generated}' not found")
    all_entries = read_manifest(manifest)
    entries = select(all_entries, split, limit, manifest)
    if ground_truth:
        paths, missing = {e.id: e.audio for e in entries}, []
    else:
        paths, missing = find_generated(entries, Path(generated))  # type: ignore[arg-type]
        if not paths:
            raise UsageError(
                f"no generated audio in '{generated}' for any of the {len(entries)} utterances "
                f"(expected files named like '{entries[0].id}.wav')"
            )
    chosen = make_judges(judges, all_entries)
    for judge in chosen:
        yield from judge.fit(entries)

    todo = [e for e in entries if e.id in paths]
    rows, unreadable, seconds = [], {}, defaultdict(float)
    for i, entry in enumerate(todo):
        yield Progress("judging", i, len(todo), message=entry.id, unit="utt")
        reference = load_audio(entry.audio)
        try:
            speech = reference if ground_truth else load_audio(paths[entry.id])
        except AudioFileError as err:
            unreadable[entry.id] = str(err)
            continue
        utterance = Utterance(entry, reference, speech)
        row = _base_row(entry, reference, speech)
        for judge in chosen:
            started = time.perf_counter()
            row.update(judge.score(utterance))
            seconds[judge.name] += time.perf_counter() - started
        rows.append(row)
    yield Progress("judging", len(todo), len(todo), unit="utt")
    if not rows:
        raise UsageError(f"none of the generated audio in '{generated}' could be read")

    summary: dict[str, Any] = {}
    for judge in chosen:
        summary.update(judge.finish(rows))
    report = EvalReport(
        manifest=str(manifest),
        generated="ground truth (ceiling)" if ground_truth else str(generated),
        judges=list(judges),
        rows=rows,
        missing=missing,
        unreadable=unreadable,
        summary=summary,
        seconds_per_utterance={name: s / len(rows) for name, s in seconds.items()},
    )
    outputs = EvalOutputs(report)
    if out is not None:
        from imagintalk_plugin.evaluation.plots import write_plots

        outputs.json_path = report.write_json(out)
        from imagintalk_plugin.evaluation.prosody import ProsodyJudge

        contours = next((j.contours for j in chosen if isinstance(j, ProsodyJudge)), [])
        outputs.plots = write_plots(report, contours, out.with_suffix(""))
    return outputs
