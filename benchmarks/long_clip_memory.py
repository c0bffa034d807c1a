"""Peak memory of `imagintalk speak` and `dub` (and the front-end alone) against clip length.

Builds talking-face clips of N seconds from real footage: the source clip's packets are
remuxed end to end (no re-encoding, so the picture is the camera's own) into a temporary
file, never into the repository. For each length, runs in fresh subprocesses under
`/usr/bin/time -v`:

- `prepare`: `imagintalk prepare CLIP --no-cache` (the front-end alone: decode, track, crop);
- `speak`: `imagintalk speak CLIP -o OUT.wav --quiet` (front-end + generation, empty cache);
- `speak (cached)`: the same with the LipTrack already in the cache (generation alone);
- `dub`: `imagintalk dub` of a timeline holding the clip alone (48 kHz / 24-bit delivery);

and prints the peak resident memory (max RSS) and the wall time of each, the median of
`--repeats` runs. The shipped demo model on the CPU. Growth from one length to the next is
what the clip's length costs; a 3-minute clip's decoded audio is 16 kHz float32, 11.5 MB.

    python benchmarks/long_clip_memory.py [--seconds 30 60 180] [--repeats N] [--source VIDEO]
        [--modes prepare speak "speak (cached)" dub]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("IMAGINTALK_REALDATA", REPO.parent / "shared" / "realdata"))
DEFAULT_SOURCE = "video/LivePortrait/d13.mp4"  # 720x1280 at 30 fps, 11.7 s, one speaker
DEFAULT_SECONDS = (30.0, 60.0, 180.0)
TARGET_MB = 1000.0  # a 3-minute clip's peak, issue 29
_MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_WALL = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)")


@dataclass(frozen=True)
class Run:
    """One subprocess's peak resident memory (MB, 10^6 bytes) and wall time (s)."""

    peak_mb: float
    wall_s: float


def loop_clip(source: Path, seconds: float, out: Path) -> float:
    """Write `out`: the video stream of `source` remuxed back to back until `seconds` are
    covered (the last loop cut at a packet); returns its length in seconds."""
    with av.open(str(source)) as src:
        stream = src.streams.video[0]
        packets = [
            (p.pts, p.dts, p.duration or 1, p.is_keyframe, bytes(p))
            for p in src.demux(stream)
            if p.pts is not None and p.dts is not None
        ]
        base = min(p[1] for p in packets)
        period = max(p[0] + p[2] for p in packets) - min(p[0] for p in packets)
        time_base = stream.time_base
        with av.open(str(out), "w") as dst:
            copy = dst.add_stream_from_template(stream)
            end, loop, full = 0.0, 0, False
            while not full:
                shift = loop * period - base
                for pts, dts, duration, key, data in packets:
                    if float((pts + shift) * time_base) >= seconds:
                        full = True
                        break
                    packet = av.Packet(data)
                    packet.pts, packet.dts, packet.duration = pts + shift, dts + shift, duration
                    packet.is_keyframe = key
                    packet.time_base = time_base
                    packet.stream = copy
                    dst.mux(packet)
                    end = max(end, float((pts + shift + duration) * time_base))
                loop += 1
    return end


def measure(command: list[str], env: dict[str, str]) -> Run:
    """Run `command` under /usr/bin/time -v; its peak RSS and wall time (fails loudly)."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    rss = _MAX_RSS.search(done.stderr)
    wall = _WALL.search(done.stderr)
    if rss is None or wall is None:
        raise RuntimeError(f"no /usr/bin/time figures in:\n{done.stderr[-2000:]}")
    hours, minutes, secs = wall.groups()
    return Run(
        int(rss.group(1)) * 1024 / 1e6, int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
    )


def one_clip_timeline(clip: Path, seconds: float, out: Path, rate: int = 30) -> Path:
    """An OTIO timeline with `clip` as its only clip, `seconds` long (for `imagintalk dub`)."""
    import opentimelineio as otio
    from opentimelineio.opentime import RationalTime, TimeRange

    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(
        otio.schema.Clip(
            name="long take",
            media_reference=otio.schema.ExternalReference(target_url=clip.resolve().as_uri()),
            source_range=TimeRange(RationalTime(0, rate), RationalTime(int(seconds * rate), rate)),
        )
    )
    timeline = otio.schema.Timeline(name="long clip")
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(out))
    return out


def _commands(clip: Path, timeline: Path, work: Path) -> dict[str, list[str]]:
    """The measured commands by name, in the order they run."""
    cli = [str(Path(sys.executable).with_name("imagintalk"))]
    quiet = ["--quiet", "--force"]
    return {
        "prepare": [*cli, "prepare", str(clip), "--out", str(work), "--no-cache", "--force"],
        "speak": [*cli, "speak", str(clip), "-o", str(work / "a.wav"), *quiet],
        "speak (cached)": [*cli, "speak", str(clip), "-o", str(work / "b.wav"), *quiet],
        "dub": [*cli, "dub", str(timeline), "-o", str(work / "d.otio"), *quiet],
    }


def _measure_length(source: Path, seconds: float, repeats: int, modes: list[str]) -> None:
    """Build one clip of `seconds` and print each command's median peak and wall time.

    Every run has a cache folder of its own (empty: the front-end runs), except
    'speak (cached)', which reads the one the first 'speak' filled.
    """
    with tempfile.TemporaryDirectory(prefix="long_clip_") as folder:
        work = Path(folder)
        clip = work / f"clip_{seconds:g}s{source.suffix}"
        length = loop_clip(source, seconds, clip)
        timeline = one_clip_timeline(clip, length, work / "timeline.otio")
        print(f"{length:6.1f} s clip")
        filled = work / "cache_speak_0"
        for mode, command in _commands(clip, timeline, work).items():
            if mode not in modes:
                continue
            runs = []
            for run in range(repeats):
                cache = filled if mode == "speak (cached)" else work / f"cache_{mode}_{run}"
                if mode == "speak (cached)" and not filled.is_dir():
                    runs.append(measure(_commands(clip, timeline, work)["speak"], _env(cache)))
                runs.append(measure(command, _env(cache)))
            peak = statistics.median(r.peak_mb for r in runs[-repeats:])
            wall = statistics.median(r.wall_s for r in runs[-repeats:])
            print(f"    {mode:16s} peak {peak:7.0f} MB   wall {wall:7.1f} s", flush=True)


def _env(cache: Path) -> dict[str, str]:
    """The environment with the LipTrack cache in `cache`."""
    return dict(os.environ, IMAGINTALK_CACHE_DIR=str(cache))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, nargs="+", default=list(DEFAULT_SECONDS), help="clip lengths"
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per figure (median)")
    parser.add_argument("--source", type=Path, help=f"real clip to loop ({DEFAULT_SOURCE})")
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["prepare", "speak", "speak (cached)", "dub"],
        help="of: prepare, speak, 'speak (cached)', dub",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    source = args.source or REALDATA / DEFAULT_SOURCE
    if not source.is_file():
        print(f"video not found: {source} (set IMAGINTALK_REALDATA?)", file=sys.stderr)
        return 2
    print(f"CPU count {os.cpu_count()}; source {source}; peak = max RSS (10^6 bytes)")
    for seconds in args.seconds:
        _measure_length(source, seconds, args.repeats, args.modes)
    print(f"target: a 3-minute clip under {TARGET_MB:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
