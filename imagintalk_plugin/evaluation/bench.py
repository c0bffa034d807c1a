"""`imagintalk bench`: time and real-time factor of every stage, torch and onnxruntime side by side.

Each backend runs in its own spawned process (so its model load time and peak memory are its
own), loads the checkpoint and warms up on a short clip. Then the backends take turns: each
repeat generates a 3 s and a 30 s clip (and the batched clips) on one backend, then on the
other, in an order reversed every other repeat, so drift in the machine's speed slows both
alike; stage times are the medians over the repeats. The clips' lip tracks are a
real prepared clip (the demo media, or `--video`) tiled to length, so every stage sees real
faces. The front-end is timed warm (its dlib models loaded once, reported apart) on that video
looped to each duration, and added to the whole pipeline's time.
RTF = processing time / audio duration (below 1 is faster than real time).
"""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.core.signals import LipTrack

DURATIONS_S = (3.0, 30.0)
BATCH_CLIPS = 8  # 3 s clips, generated one by one and then as one batch
TIMED_STAGES = ("aligner", "detector", "refiner", "style", "dit", "codec_decoder", "vocoder")


@dataclass(frozen=True)
class BenchRequest:
    """What to measure."""

    checkpoint: Path
    track_path: Path  # a saved LipTrack (.npz) to tile
    backends: tuple[str, ...] = ("torch", "onnx")
    repeats: int = 3
    threads: int = 0
    device: str = "cpu"
    batch_size: int = BATCH_CLIPS  # the batched run's batch size


def tile_track(track: LipTrack, seconds: float) -> LipTrack:
    """`track` repeated (and cut) to `seconds` of frames."""
    frames = max(1, round(seconds * track.fps))
    index = np.arange(frames) % track.num_frames
    return replace(
        track,
        mouth_crops=track.mouth_crops[index],
        landmarks=track.landmarks[index],
        valid=track.valid[index],
        expressions=track.expressions[index],
    )


def _timed(fn: Callable, totals: dict[str, float], name: str) -> Callable:
    def call(*args: Any) -> Any:
        begin = time.perf_counter()
        out = fn(*args)
        totals[name] = totals.get(name, 0.0) + time.perf_counter() - begin
        return out

    return call


class _BackendRunner:
    """In a worker process: one backend's models, loaded and warmed up, timing what it's told."""

    def __init__(self, request: BenchRequest, backend: str) -> None:
        import torch

        from imagintalk_plugin.core.progress import drive
        from imagintalk_plugin.frontend.lip_track_io import load_lip_track
        from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages
        from imagintalk_plugin.pipeline.speech import SpeechSettings, speak_track

        if request.threads > 0:
            torch.set_num_threads(request.threads)
        begin = time.perf_counter()
        self.models = load_dub_models(request.checkpoint, request.device)
        self.stages = make_stages(self.models, backend, request.device, request.threads)
        self.load_s = time.perf_counter() - begin
        self.track = load_lip_track(request.track_path)
        self.totals: dict[str, float] = {}
        self.timed = replace(
            self.stages,
            **{n: _timed(getattr(self.stages, n), self.totals, n) for n in TIMED_STAGES},
        )
        self.settings = SpeechSettings()
        seeds = [replace(self.settings.overrides, seed=seed) for seed in range(BATCH_CLIPS)]
        short = tile_track(self.track, 3.0)
        self.clips = [(short, replace(self.settings, overrides=o)) for o in seeds]
        drive(speak_track(self.models, self.timed, short, self.settings))

    def run(self, job: tuple[str, float]) -> Any:
        """("clip", seconds) -> stage totals, "other" and "total" of one clip; ("batch", size)
        -> seconds to speak BATCH_CLIPS 3 s clips `size` at a time."""
        from imagintalk_plugin.core.progress import drive
        from imagintalk_plugin.pipeline.speech import speak_track, speak_tracks

        kind, value = job
        if kind == "clip":
            self.totals.clear()
            clip = tile_track(self.track, value)
            begin = time.perf_counter()
            drive(speak_track(self.models, self.timed, clip, self.settings))
            whole = time.perf_counter() - begin
            return {**self.totals, "other": whole - sum(self.totals.values()), "total": whole}
        begin = time.perf_counter()
        drive(speak_tracks(self.models, self.stages, self.clips, int(value)))
        return time.perf_counter() - begin

    def summary(self) -> dict[str, Any]:
        """Threads and this process's peak memory."""
        import torch

        return {
            "threads": self.stages.threads,
            "torch_threads": torch.get_num_threads(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }


def _worker(request: BenchRequest, backend: str, conn: Any) -> None:
    """Worker process: load, say so, then run each job the parent sends until None."""
    try:
        runner = _BackendRunner(request, backend)
    except Exception as err:  # reported by the parent as this backend's one-line failure
        conn.send({"error": f"{type(err).__name__}: {err}"})
        return
    conn.send({"load_s": runner.load_s})
    while (job := conn.recv()) is not None:
        try:
            conn.send({"value": runner.run(job)})
        except Exception as err:
            conn.send({"error": f"{type(err).__name__}: {err}"})
            return
    conn.send(runner.summary())


def measure(request: BenchRequest) -> list[dict[str, Any]]:
    """Every backend's figures, each in its own spawned process, all loaded at once.

    The backends load one after another (so each load time is its own), then take turns: every
    repeat runs each job on each backend in turn, the order reversed every other repeat, so a
    machine whose speed drifts during the run (a shared cloud CPU does) slows both alike.
    """
    context = multiprocessing.get_context("spawn")
    workers: dict[str, tuple[Any, Any]] = {}
    figures: dict[str, dict[str, Any]] = {}
    for backend in request.backends:
        parent, child = context.Pipe()
        process = context.Process(target=_worker, args=(request, backend, child))
        process.start()
        workers[backend] = (process, parent)
        figures[backend] = {"backend": backend, **_reply(parent)}
    # one job per distinct run (a batch size of 1 is the one-by-one run itself)
    batches = dict.fromkeys((("batch", 1), ("batch", request.batch_size)))
    jobs = [*(("clip", s) for s in DURATIONS_S), *batches]
    runs: dict[str, dict[tuple[str, float], list[Any]]] = {
        b: {j: [] for j in jobs} for b in workers
    }
    for repeat in range(request.repeats):
        order = list(request.backends)[:: 1 if repeat % 2 == 0 else -1]
        for job in jobs:
            for backend in order:
                if "error" in figures[backend]:
                    continue
                connection = workers[backend][1]
                connection.send(job)
                reply = _reply(connection)
                if "error" in reply:
                    figures[backend]["error"] = reply["error"]
                else:
                    runs[backend][job].append(reply["value"])
    for backend, (process, connection) in workers.items():
        if "error" not in figures[backend]:
            connection.send(None)
            figures[backend].update(_reply(connection))
            figures[backend].update(_medians(runs[backend], request.batch_size))
        process.join()
    return [figures[backend] for backend in request.backends]


def _reply(connection: Any) -> dict[str, Any]:
    """The worker's next message, or an error if it died without one."""
    try:
        return connection.recv()
    except EOFError:
        return {"error": "the benchmark process exited without an answer"}


def _medians(runs: dict[tuple[str, float], list[Any]], batch_size: int) -> dict[str, Any]:
    """The JSON figures of one backend's runs: medians over the repeats."""
    durations = {}
    for seconds in DURATIONS_S:
        clip = runs[("clip", seconds)]
        durations[f"{seconds:g}"] = {
            key: statistics.median(run.get(key, 0.0) for run in clip) for key in clip[0]
        }
    return {
        "batch": {
            "clips": BATCH_CLIPS,
            "batch_size": batch_size,
            "one_by_one_s": statistics.median(runs[("batch", 1)]),
            "batched_s": statistics.median(runs[("batch", batch_size)]),
        },
        "durations": durations,
    }


def looped_video(video: Path, seconds: float, out: Path) -> Path:
    """`video` played forwards then backwards (no jump cut) until `seconds` long, as an mp4, so
    the front-end is timed on a real face for as long as each benchmark clip."""
    from imagintalk_plugin.frontend.decoding import iter_frames
    from imagintalk_plugin.frontend.video_probe import probe_video
    from imagintalk_plugin.synth.media import write_mp4

    fps = round(probe_video(video).fps)
    frames = [f.rgb for f in iter_frames(video, fps=fps, rgb_indices=range(100_000))]
    cycle = frames + frames[-2:0:-1]
    total = max(1, round(seconds * fps))
    return write_mp4(out, (cycle[i % len(cycle)] for i in range(total)), fps=fps)


@dataclass(frozen=True)
class FrontendTimes:
    """Front-end (decode, face tracking, landmarks, mouth crops, identity) wall times."""

    load_s: float  # loading the dlib models, once per process
    seconds: dict[str, float]  # warm, median over repeats, per clip duration ("3", "30")
    track: LipTrack  # the prepared short clip, tiled for the model stages


def time_frontend(video: Path, repeats: int = 3) -> FrontendTimes:
    """Time the front-end warm on `video` looped to each benchmark duration (no cache)."""
    import tempfile

    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.frontend.cache import LipTrackCache
    from imagintalk_plugin.frontend.face_models import shared_face_models
    from imagintalk_plugin.frontend.prepare import prepare_range

    begin = time.perf_counter()
    shared_face_models()
    load_s = time.perf_counter() - begin
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        first = prepare_range(video, 0.0, None, clip_id="bench", cache=LipTrackCache(Path(folder)))
        track = drive(first).track
        for duration in DURATIONS_S:
            clip = looped_video(video, duration, Path(folder) / f"bench_{duration:g}s.mp4")
            runs = []
            for run in range(repeats):
                cache = LipTrackCache(Path(folder) / f"cache_{duration:g}_{run}")
                begin = time.perf_counter()
                drive(prepare_range(clip, 0.0, None, clip_id="bench", cache=cache))
                runs.append(time.perf_counter() - begin)
            seconds[f"{duration:g}"] = statistics.median(runs)
    return FrontendTimes(load_s, seconds, track)


def format_report(results: list[dict[str, Any]], frontend: FrontendTimes) -> str:
    """The side-by-side table: per stage seconds and RTF, whole pipeline, load, memory."""
    cells = ", ".join(
        f"{k} s clip {v:.2f} s (RTF {v / float(k):.3f})" for k, v in frontend.seconds.items()
    )
    lines = [f"front-end (face + lips, dlib), warm: {cells}; dlib load {frontend.load_s:.2f} s"]
    lines += [f"{r['backend']}: failed: {r['error']}" for r in results if "error" in r]
    good = [r for r in results if "error" not in r]
    if not good:
        return "\n".join(lines)
    names = [r["backend"] for r in good]
    header = f"{'':22s}" + "".join(f"{n:>20s}" for n in names)
    lines += ["", header]
    lines.append(f"{'model load (s)':22s}" + "".join(f"{r['load_s']:20.2f}" for r in good))
    lines.append(f"{'peak memory (MB)':22s}" + "".join(f"{r['peak_rss_mb']:20.0f}" for r in good))
    lines.append(f"{'threads':22s}" + "".join(f"{r['threads']:20d}" for r in good))
    for seconds in DURATIONS_S:
        key = f"{seconds:g}"
        lines.append(f"-- {key} s clip: seconds (RTF), medians")
        for stage in (*TIMED_STAGES, "other", "total"):
            cells = []
            for r in good:
                value = r["durations"][key].get(stage, 0.0)
                cells.append(f"{value:9.3f} ({value / seconds:6.3f})")
            lines.append(f"  {stage:20s}" + "".join(f"{c:>20s}" for c in cells))
        whole = []
        for r in good:
            rtf = (r["durations"][key]["total"] + frontend.seconds[key]) / seconds
            whole.append(f"{'RTF ' + format(rtf, '.3f'):>20s}")
        lines.append(f"  {'whole + front-end':20s}" + "".join(whole))
    lines.append(
        f"-- {BATCH_CLIPS} clips of 3 s, one by one vs batched: seconds (throughput RTF), medians"
    )
    for key in ("one_by_one_s", "batched_s"):
        cells = []
        for r in good:
            value = r["batch"][key]
            cells.append(f"{value:9.3f} ({value / (3.0 * BATCH_CLIPS):6.3f})")
        label = (
            "one by one" if key == "one_by_one_s" else f"batch of {good[0]['batch']['batch_size']}"
        )
        lines.append(f"  {label:20s}" + "".join(f"{c:>20s}" for c in cells))
    speedups = "".join(
        f"{r['batch']['one_by_one_s'] / r['batch']['batched_s']:19.2f}x" for r in good
    )
    lines.append(f"  {'batching speed-up':20s}" + speedups)
    if len(good) == 2:
        a, b = good
        for seconds in DURATIONS_S:
            key = f"{seconds:g}"
            ratio = a["durations"][key]["total"] / b["durations"][key]["total"]
            lines.append(f"{a['backend']} / {b['backend']} time, {key} s clip: {ratio:.2f}x")
    return "\n".join(lines)
