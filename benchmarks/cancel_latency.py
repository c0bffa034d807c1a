"""How long `imagintalk dub` takes to stop after Ctrl-C in the middle of the Style-DiT.

Runs the README's main job (the demo timeline, the shipped model, the default batch of 8) in
a fresh output folder per repeat, waits until its progress bar shows the `style-dit` stage
(plus `--delay` seconds, so the signal lands inside the sampler's steps), sends SIGINT and
times the process until it exits. Prints each repeat's latency, exit status and the takes
left on disk, then the median. Target: under 2 s, exit status 130, only whole takes kept.

    python benchmarks/cancel_latency.py [--repeats N] [--delay S] [--batch-size B]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGINTALK = Path(sys.executable).with_name("imagintalk")
TARGET_S = 2.0


def _wait_for_stage(process: subprocess.Popen, stage: str, seen: threading.Event) -> None:
    """Read the progress bars (stderr, carriage returns) until `stage` shows up."""
    buffer = ""
    while True:
        chunk = process.stderr.read(64)
        if not chunk:
            return
        buffer = (buffer + chunk)[-4096:]
        if stage in buffer:
            seen.set()


def one_run(folder: Path, delay: float, batch_size: int) -> tuple[float, int, list[str]]:
    """(seconds from SIGINT to exit, exit status, take files left) for one cancelled dub."""
    output = folder / "demo_dubbed.otio"
    command = [str(IMAGINTALK), "dub", "-o", str(output), "--batch-size", str(batch_size)]
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen(
        command, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
    )
    seen = threading.Event()
    reader = threading.Thread(target=_wait_for_stage, args=(process, "style-dit", seen))
    reader.start()
    if not seen.wait(600):
        process.kill()
        raise SystemExit("the dub never reached the style-dit stage")
    time.sleep(delay)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    status = process.wait()
    latency = time.monotonic() - sent
    reader.join()
    takes = sorted(p.name for p in folder.glob("demo_dubbed_dialogue/*.wav"))
    return latency, status, takes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds into the DiT")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    latencies = []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            latency, status, takes = one_run(Path(tmp), args.delay, args.batch_size)
        latencies.append(latency)
        print(f"run {repeat + 1}: {latency:.2f} s to exit, status {status}, takes kept {takes}")
    median = statistics.median(latencies)
    verdict = "met" if median < TARGET_S else "NOT met"
    print(f"median {median:.2f} s from SIGINT to exit (target < {TARGET_S:.0f} s: {verdict})")


if __name__ == "__main__":
    main()
