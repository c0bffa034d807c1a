"""ImaginTalk-Synth: rendering throughput, and how often the front-end finds the rendered faces.

Renders a corpus `--repeats` times (fresh folder each time, all cores) and prints the median
utterances per minute against the target (60/min on 2 cores), split into speaker set-up (face
finding and variants, once per corpus) and rendering. Then runs the project's own front-end
over every rendered clip: the dlib HOG detector on every frame at the tracker's detection
scale (target: a face on >= 99% of frames), and the full `prepare_range` tracker (frames with
a detected or tracked face, not interpolated).

    python benchmarks/bench_synth.py [--utterances N] [--repeats R] [--faces DIR] [--jobs J]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

from imagintalk_plugin.core.manifest import read_manifest
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.frontend.decoding import iter_frames
from imagintalk_plugin.frontend.face_models import shared_face_models
from imagintalk_plugin.frontend.prepare import prepare_range
from imagintalk_plugin.frontend.tracking import detection_scales
from imagintalk_plugin.synth.corpus import CorpusSettings, synth_corpus

TARGET_PER_MINUTE = 60.0
DETECTION_TARGET = 0.99


def _render(out: Path, args: argparse.Namespace) -> tuple[float, float, Path]:
    """(set-up seconds, render seconds, manifest) for one corpus."""
    settings = CorpusSettings(
        out=out,
        utterances=args.utterances,
        speakers=args.speakers,
        seed=args.seed,
        faces=args.faces,
        jobs=args.jobs,
    )
    start = time.perf_counter()
    setup = None
    manifest = None
    job = synth_corpus(settings)
    try:
        while True:
            step = next(job)
            if step.stage == "render" and setup is None:
                setup = time.perf_counter() - start
    except StopIteration as done:
        manifest = done.value
    total = time.perf_counter() - start
    return setup or 0.0, total - (setup or 0.0), manifest


def _detection(manifest: Path) -> tuple[int, int, int, int]:
    """(frames with a detection, frames, frames the tracker found, frames) over the corpus."""
    models = shared_face_models()
    detected = frames = tracked = tracked_total = 0
    for entry in read_manifest(manifest):
        for frame in iter_frames(entry.video):
            scale = detection_scales(*frame.gray.shape)[0]
            detected += bool(models.detect(frame.gray, scale))
            frames += 1
        prepared = drive(prepare_range(entry.video, 0.0, None, clip_id=entry.id))
        tracked += prepared.frames_found
        tracked_total += prepared.track.num_frames
    return detected, frames, tracked, tracked_total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=60)
    parser.add_argument("--speakers", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faces", type=Path)
    parser.add_argument("--jobs", type=int, default=0)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    rates, setups, renders, manifest = [], [], [], None
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            setup, render, manifest = _render(Path(tmp) / f"run{k}", args)
            setups.append(setup)
            renders.append(render)
            rates.append(args.utterances / (setup + render) * 60.0)
            print(f"run {k + 1}: set-up {setup:.1f} s, render {render:.1f} s", file=sys.stderr)
        entries = read_manifest(manifest)
        audio_s = sum(e.duration for e in entries)
        rate = statistics.median(rates)
        print(f"machine: {os.cpu_count()} cores, jobs={args.jobs or os.cpu_count()}")
        print(f"corpus: {args.utterances} utterances, {args.speakers} speakers, "
              f"{audio_s:.0f} s of speech ({audio_s / len(entries):.2f} s each)")  # fmt: skip
        print(f"set-up (faces, variants, voices): median {statistics.median(setups):.1f} s")
        render = statistics.median(renders)
        print(f"render: median {render:.1f} s = {args.utterances / render * 60:.0f} utterances/min")
        verdict = "ok" if rate >= TARGET_PER_MINUTE else "BELOW TARGET"
        print(f"whole run: median {rate:.0f} utterances/min (target {TARGET_PER_MINUTE:.0f}) "
              f"{verdict}")  # fmt: skip
        detected, frames, tracked, tracked_total = _detection(manifest)
        share = detected / frames
        verdict = "ok" if share >= DETECTION_TARGET else "BELOW TARGET"
        print(f"face detector (every frame): {detected}/{frames} = {share:.2%} {verdict}")
        print(f"front-end tracker: face found on {tracked}/{tracked_total} frames "
              f"= {tracked / tracked_total:.2%}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
