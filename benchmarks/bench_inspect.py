"""How long `imagintalk timeline inspect` takes on the largest shared EDL and FCP7 XML.

Prints the median over repeated runs of (a) importing the CLI in a fresh interpreter,
(b) the whole `imagintalk timeline inspect --json` command in a fresh process, and
(c) reading + listing + reporting in-process, so start-up and work can be told apart.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("IMAGINTALK_REALDATA", REPO.parent / "shared" / "realdata"))
FILES = [
    "timelines/lossless-cut/edl/070816_EG101_HEISTS_ROUGH_CUT_SOURCES_PART 1.edl",
    "timelines/otio-cmx3600-adapter/speed_effects.edl",
    "timelines/otio-fcp-adapter/empty_name_tags.xml",
]
RUNS = 7


def _median_seconds(command: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    if not REALDATA.is_dir():
        print(f"real data not found at {REALDATA}")
        return 1
    from imagintalk_plugin.timeline.clips import list_clips
    from imagintalk_plugin.timeline.reading import read_timeline
    from imagintalk_plugin.timeline.report import inspect_report

    python = sys.executable
    bare = _median_seconds([python, "-c", "pass"])
    cli = _median_seconds([python, "-c", "import imagintalk_plugin.cli"])
    print(f"python start-up            {bare * 1000:7.1f} ms (median of {RUNS})")
    print(f"import imagintalk CLI      {(cli - bare) * 1000:7.1f} ms on top")
    for name in FILES:
        path = REALDATA / name
        whole = _median_seconds(
            [python, "-m", "imagintalk_plugin", "timeline", "inspect", str(path), "--json"]
        )
        work = []
        clips = 0
        for _ in range(RUNS):
            start = time.perf_counter()
            loaded = read_timeline(path)
            clips = len(inspect_report(loaded, list_clips(loaded))["clips"])
            work.append(time.perf_counter() - start)
        print(
            f"{path.name[:40]:<40} {clips:4d} clips: whole command {whole * 1000:6.1f} ms, "
            f"read+list+report {statistics.median(work) * 1000:6.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
