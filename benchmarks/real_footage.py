"""Real footage: the product's speak path on real clips, judged against each clip's recording.

Each selected clip of a manifest (a real corpus made by `imagintalk corpus import`) goes through
the front-end and the model as its video file is, its own audio track still in it (nothing on
this path reads audio), into `OUT/generated/<id>.wav`: `voice_corpus`, what `imagintalk
voice-corpus` runs. Existing WAVs are kept (an interrupted run resumes; `--regenerate` drops
them). The judges wer, speaker, signal, lag and sync then score the generated speech and the
recording itself (the ceiling), and the figures are printed side by side:

- GRID WER / CER (PocketSphinx, GRID grammar; errors over all reference words);
- STOI / ESTOI and MCD against the recording (STOI compares the same instants, so a take
  100 ms off scores low even when perfect: read it with the lag);
- speaker similarity to the clip's own recording (Resemblyzer cosine);
- envelope lag (ms, positive = generated later) median, median |lag|, share within 40 ms (one
  video frame), mean envelope correlation, clips whose peak sat at the 200 ms search limit;
- mouth sync (speech energy vs the front-end's mouth-opening curve): pooled lag in frames and
  correlation.

- the share of the generated speech energy where the recording has speech (`inside`).

On the ceiling the lag is 0 and the correlation 1 by construction (a sanity check). With
`--line` each clip says its own transcript as a known line (ADR, `speak --line`): the words
come from the script, the timing from the lips.
Writes `OUT/real_footage.json` (the figures, settings, timings) and both full eval reports.

    python benchmarks/real_footage.py --manifest data/grid-s1/manifest.jsonl \
        [--model DIR] [--split test] [--limit 30] [--out DIR] [--device cpu] [--line]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
JUDGES = ("wer", "speaker", "signal", "lag", "sync")

# (key, label, format) of each figure, in the table's order.
MEASURES = (
    ("clips", "clips judged", "{:.0f}"),
    ("wer", "WER", "{:.1%}"),
    ("cer", "CER", "{:.1%}"),
    ("stoi", "STOI", "{:.3f}"),
    ("estoi", "ESTOI", "{:.3f}"),
    ("mcd_db", "MCD (dB)", "{:.2f}"),
    ("speaker_sim", "speaker similarity to the recording", "{:.3f}"),
    ("lag_median_ms", "envelope lag, median (ms, + = late)", "{:+.0f}"),
    ("lag_abs_median_ms", "envelope |lag|, median (ms)", "{:.0f}"),
    ("lag_within_40ms", "envelope lag within 40 ms", "{:.0%}"),
    ("lag_mean_corr", "envelope correlation, mean", "{:.2f}"),
    ("lag_at_limit", "envelope lag at the 200 ms limit", "{:.0f}"),
    ("inside", "speech energy where the recording speaks", "{:.0%}"),
    ("sync_lag_frames", "mouth sync lag, pooled (frames)", "{:+.2f}"),
    ("sync_corr", "mouth sync correlation, pooled", "{:.2f}"),
)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def figures(report: Any) -> dict[str, float | None]:
    """The table's figures from an `EvalReport` (None where not measured). WER/CER are the
    corpus figures over the GRID lines, or over every line when there are none."""
    summary, means = report.summary, report.means
    grid = "wer_corpus_grid" in summary
    values = {
        "clips": len(report.rows),
        "wer": summary.get("wer_corpus_grid" if grid else "wer_corpus"),
        "cer": summary.get("cer_corpus_grid" if grid else "cer_corpus"),
        "sync_lag_frames": summary.get("sync_pooled_lag_frames"),
        "sync_corr": summary.get("sync_pooled_corr"),
    }
    for key in ("stoi", "estoi", "mcd_db", "speaker_sim"):
        values[key] = means.get(key)
    for key in ("lag_median_ms", "lag_abs_median_ms", "lag_within_40ms", "lag_mean_corr"):
        values[key] = summary.get(key)
    values["lag_at_limit"] = summary.get("lag_at_limit")
    values["inside"] = summary.get("inside_mean")
    return {key: _finite(value) for key, value in values.items()}


def format_figures(generated: dict[str, float | None], ceiling: dict[str, float | None]) -> str:
    """Generated and ceiling figures side by side, one measure a line ("-": not measured)."""
    rows = [("measure", "generated", "ceiling")]
    for key, label, fmt in MEASURES:
        cells = [
            fmt.format(v) if v is not None else "-" for v in (generated.get(key), ceiling.get(key))
        ]
        rows.append((label, *cells))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"{a.ljust(widths[0])}  {b.rjust(widths[1])}  {c.rjust(widths[2])}" for a, b, c in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def generate(args: argparse.Namespace, folder: Path) -> tuple[int, float]:
    """Voice the selected clips into `folder` with the model: (clips made now, seconds)."""
    from imagintalk_plugin.cli.progress_bar import ProgressBars
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.evaluation.corpus_voicing import voice_corpus
    from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages

    device = None if args.device == "auto" else args.device
    models = load_dub_models(args.model, device)
    stages = make_stages(models, "torch", device)
    started = time.perf_counter()
    job = voice_corpus(
        models, stages, args.manifest, folder, args.split, args.limit, lines=args.line
    )
    with ProgressBars(enabled=not args.quiet) as bars:
        made = drive(job, bars)
    return made, time.perf_counter() - started


def judge(args: argparse.Namespace, folder: Path | None, report_path: Path) -> Any:
    """The judges on the generated folder (None: the recordings, the ceiling); the report,
    also written to `report_path`."""
    from imagintalk_plugin.cli.progress_bar import ProgressBars
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.evaluation.scoring import run_eval

    job = run_eval(
        args.manifest, folder, ground_truth=folder is None, split=args.split,
        judges=JUDGES, limit=args.limit,
    )  # fmt: skip
    with ProgressBars(enabled=not args.quiet) as bars:
        report = drive(job, bars).report
    report.write_json(report_path)
    return report


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    from imagintalk_plugin.core.paths import default_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, required=True, help="a real corpus's manifest")
    parser.add_argument(
        "--model",
        type=Path,
        default=default_checkpoint(),
        metavar="DIR",
        help="model folder (default: the shipped demo model)",
    )
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N clips")
    parser.add_argument("--out", type=Path, metavar="DIR", help="default runs/real_footage/...")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    parser.add_argument("--regenerate", action="store_true", help="drop existing generated WAVs")
    parser.add_argument(
        "--line", action="store_true", help="ADR: each clip says its transcript (speak --line)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.manifest.is_dir():
        args.manifest = args.manifest / "manifest.jsonl"
    if args.out is None:
        name = f"{args.model.name}-{args.manifest.parent.name}-{args.split}"
        name += "-line" if args.line else ""
        args.out = REPO / "runs" / "real_footage" / name
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, judge both sides, print the table, write the JSON."""
    args = parse_args(argv)
    folder = args.out / "generated"
    if args.regenerate and folder.is_dir():
        for wav in folder.glob("*.wav"):
            wav.unlink()
    made, seconds = generate(args, folder)
    generated = judge(args, folder, args.out / "generated_report.json")
    ceiling = judge(args, None, args.out / "ceiling_report.json")
    result = {
        "model": str(args.model),
        "manifest": str(args.manifest),
        "split": args.split,
        "limit": args.limit,
        "line": args.line,
        "generated_now": made,
        "generation_seconds_per_clip": seconds / made if made else None,
        "missing": generated.missing,
        "sync_failures": sorted(generated.summary.get("sync_failures", {})),
        "figures": {"generated": figures(generated), "ceiling": figures(ceiling)},
    }
    path = args.out / "real_footage.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(format_figures(result["figures"]["generated"], result["figures"]["ceiling"]))
    if made:
        print(f"generation: {made} clip(s), {seconds / made:.1f} s per clip")
    print(f"figures: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
