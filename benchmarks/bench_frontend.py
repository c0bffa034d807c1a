"""How fast the video front-end turns a file range into a LipTrack, cold and from the cache.

For each video, times `prepare_range` over the first seconds of the clip: cold runs each
start from an empty cache directory, warm runs read the entry a cold run stored. Prints the
medians and whether the targets hold (cold >= 75 frames/s at 360p, i.e. 3x real time at
25 fps; warm under 5% of cold). The dlib models are loaded once beforehand, timed apart.

    python benchmarks/bench_frontend.py [--repeats N] [--seconds S] [VIDEO ...]
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

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.frontend.decoding import probe_video
from imagintalk_plugin.frontend.face_models import FaceModels, shared_face_models
from imagintalk_plugin.frontend.prepare import prepare_range

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("IMAGINTALK_REALDATA", REPO.parent / "shared" / "realdata"))
DEFAULT_VIDEOS = ["video/GRID/bbaf2n.mpg", "video/LivePortrait/d13.mp4"]
MAX_SECONDS = 10.0
COLD_FPS_TARGET = 75.0  # 3x real time at 25 fps, for 360p video
WARM_RATIO_TARGET = 0.05


def _time_prepare(path: Path, end_s: float, cache: LipTrackCache, models: FaceModels) -> int:
    """Run `prepare_range` once on [0, end_s) and return the number of frames it made."""
    job = prepare_range(path, 0.0, end_s, clip_id="bench", cache=cache, models=models)
    return drive(job).track.num_frames


def _bench_video(path: Path, seconds: float | None, repeats: int, models: FaceModels) -> None:
    """Time cold and warm preparation of one video and print the figures."""
    info = probe_video(path)
    end_s = min(seconds if seconds is not None else info.duration_s, MAX_SECONDS)
    cold: list[float] = []
    warm: list[float] = []
    frames = 0
    with tempfile.TemporaryDirectory() as keep:
        for run in range(repeats):  # the last cold run fills the cache the warm runs read
            with tempfile.TemporaryDirectory() as fresh:
                root = Path(keep if run == repeats - 1 else fresh)
                start = time.perf_counter()
                frames = _time_prepare(path, end_s, LipTrackCache(root), models)
                cold.append(time.perf_counter() - start)
        for _ in range(repeats):
            start = time.perf_counter()
            _time_prepare(path, end_s, LipTrackCache(Path(keep)), models)
            warm.append(time.perf_counter() - start)
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    cold_fps = statistics.median(frames / t for t in cold)
    ratio = warm_s / cold_s
    is_360p = min(info.width, info.height) <= 360
    fps_ok = "n/a (not 360p)" if not is_360p else _verdict(cold_fps >= COLD_FPS_TARGET)
    print(f"{path.name}: {info.width}x{info.height} @ {info.fps:.2f} fps, first {end_s:.2f} s")
    print(f"  frames                 {frames:8d}")
    print(f"  cold (median of {repeats})     {cold_s * 1000:8.1f} ms  {cold_fps:7.1f} frames/s")
    print(f"  warm (median of {repeats})     {warm_s * 1000:8.1f} ms  {ratio * 100:7.2f}% of cold")
    print(f"  target cold >= {COLD_FPS_TARGET:.0f} fps    {fps_ok}")
    print(f"  target warm < 5% cold   {_verdict(ratio < WARM_RATIO_TARGET)}")


def _verdict(met: bool) -> str:
    """'met' or 'NOT met'."""
    return "met" if met else "NOT met"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="cold and warm runs (default 5)")
    parser.add_argument(
        "--seconds", type=float, default=None, help="seconds from the start (default: all, <= 10)"
    )
    parser.add_argument("videos", nargs="*", type=Path, help="videos (default: shared clips)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    videos = args.videos or [REALDATA / name for name in DEFAULT_VIDEOS]
    for video in videos:
        if not video.is_file():
            print(f"video not found: {video} (set IMAGINTALK_REALDATA?)", file=sys.stderr)
            return 2
    print(f"CPU count {os.cpu_count()}, cv2.getNumThreads() {cv2.getNumThreads()}")
    start = time.perf_counter()
    models = shared_face_models()
    print(f"face models loaded in {(time.perf_counter() - start) * 1000:.0f} ms (not in timings)")
    for video in videos:
        _bench_video(video, args.seconds, args.repeats, models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
