"""Casting: does one cast voice stay one voice across clips, and do two casts stay apart?

Each character is cast once (from a reference recording, a named voice of the model's voice
bank, or the face of a clip) and then speaks the same clips: different people's lips and
faces, each saying its own transcript as a known line (ADR). Resemblyzer compares the takes:
within a character every pair of its takes (target: at least 0.80), across two characters
every pair of their takes (target: below 0.75). Without a cast ("own face") each clip speaks in
its own face's voice: the row shows how far apart those are.

    python benchmarks/casting_consistency.py [--manifest data/grid-unseen/manifest.jsonl]
        [--clips 3] [--model DIR] [--json OUT.json]

The casts default to the demo model's bank voices `grid-s1` and `synth-s000`, and to the
recordings and faces of two clips given with --voice-a/--voice-b and --face-a/--face-b.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _takes(models: Any, stages: Any, tracks: list, lines: list[str], settings: Any) -> list:
    """One take per clip with these settings, each saying its own line."""
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.pipeline.speech import speak_tracks

    requests = [(t, replace(settings, line=line)) for t, line in zip(tracks, lines, strict=True)]
    return drive(speak_tracks(models, stages, requests))


def _similarities(embeddings: list[np.ndarray]) -> list[float]:
    return [float(a @ b) for a, b in itertools.combinations(embeddings, 2)]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every cast kind's within- and across-character similarities."""
    from imagintalk_plugin.audio import SpeakerEncoder
    from imagintalk_plugin.core.manifest import read_manifest
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.frontend.prepare import prepare_range
    from imagintalk_plugin.pipeline.clip_job import speech_settings
    from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages
    from imagintalk_plugin.pipeline.voice_bank import read_voice_bank
    from imagintalk_plugin.pipeline.voice_overrides_io import (
        reference_voice_embedding,
        video_face_embedding,
    )

    entries = [e for e in read_manifest(args.manifest) if e.split == args.split][: args.clips]
    tracks = [drive(prepare_range(e.video, 0.0, None, clip_id=e.id)).track for e in entries]
    lines = [e.text for e in entries]
    models = load_dub_models(args.model, "cpu")
    stages = make_stages(models)
    encoder = SpeakerEncoder()
    bank = read_voice_bank(args.model)
    casts: dict[str, tuple[Any, Any]] = {}
    if args.voice_a and args.voice_b:
        a, b = (reference_voice_embedding(p) for p in (args.voice_a, args.voice_b))
        casts["voice"] = (speech_settings(reference_voice=a), speech_settings(reference_voice=b))
    if args.bank_a in bank.voices and args.bank_b in bank.voices:
        a, b = (bank.voice(n, "bench").embedding for n in (args.bank_a, args.bank_b))
        casts["bank"] = (speech_settings(reference_voice=a), speech_settings(reference_voice=b))
    if args.face_a and args.face_b:
        a, b = (drive(video_face_embedding(p)) for p in (args.face_a, args.face_b))
        casts["face"] = (speech_settings(face=a), speech_settings(face=b))
    results: dict[str, Any] = {"clips": [e.id for e in entries]}
    own = _takes(models, stages, tracks, lines, speech_settings())
    own_emb = [encoder.embed(s.waveform.samples) for s in own]
    results["own face"] = {"within": _similarities(own_emb)}
    for kind, (first, second) in casts.items():
        emb_a = [
            encoder.embed(s.waveform.samples) for s in _takes(models, stages, tracks, lines, first)
        ]
        emb_b = [
            encoder.embed(s.waveform.samples) for s in _takes(models, stages, tracks, lines, second)
        ]
        across = [float(x @ y) for x in emb_a for y in emb_b]
        results[kind] = {
            "within": _similarities(emb_a) + _similarities(emb_b),
            "across": across,
        }
    return results


def format_results(results: dict[str, Any]) -> str:
    """One row per cast kind: within (mean, min) and across (mean, max)."""
    rows = ["cast          within mean  within min  across mean  across max  targets"]
    for kind, figures in results.items():
        if kind == "clips":
            continue
        within, across = figures["within"], figures.get("across", [])
        ok = ""
        if across:
            ok = "met" if min(within) >= 0.80 and max(across) < 0.75 else "not met"
        rows.append(
            f"{kind:<12}  {np.mean(within):11.3f}  {min(within):10.3f}  "
            + (f"{np.mean(across):11.3f}  {max(across):10.3f}" if across else " " * 23)
            + f"  {ok}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Measure, print, optionally write JSON."""
    from imagintalk_plugin.core.paths import default_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=REPO / "data/grid-unseen/manifest.jsonl")
    parser.add_argument("--split", default="test")
    parser.add_argument("--clips", type=int, default=3, help="clips each character speaks")
    parser.add_argument("--model", type=Path, default=default_checkpoint())
    parser.add_argument("--voice-a", type=Path, help="reference recording of character A")
    parser.add_argument("--voice-b", type=Path, help="reference recording of character B")
    parser.add_argument("--bank-a", default="grid-s1", help="bank voice of character A")
    parser.add_argument("--bank-b", default="synth-s000", help="bank voice of character B")
    parser.add_argument("--face-a", type=Path, help="a video whose face casts character A")
    parser.add_argument("--face-b", type=Path, help="a video whose face casts character B")
    parser.add_argument("--json", type=Path, help="also write the similarities here")
    args = parser.parse_args(argv)
    results = measure(args)
    print(f"clips: {', '.join(results['clips'])}")
    print(format_results(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
