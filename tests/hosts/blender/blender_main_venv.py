"""The main venv seen from the Blender tests: running its Python, reading timelines with it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
MAIN_PYTHON = Path(os.environ.get("IMAGINTALK_MAIN_PYTHON", REPO / ".venv" / "bin" / "python"))

MEDIA_SCRIPT = """
import sys
from fractions import Fraction
from pathlib import Path
import av
import numpy as np

out = Path(sys.argv[1])
for name, rate, frames in [("24", 24, 48), ("25", 25, 50), ("23976", Fraction(24000, 1001), 48)]:
    with av.open(str(out / f"clip_{name}.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.full((64, 64, 3), (i * 5) % 256, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
"""


def run_main(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run the main venv's Python (from the repository root); fails the test on an error."""
    result = subprocess.run(
        [str(MAIN_PYTHON), *args], cwd=REPO, capture_output=True, text=True, **kwargs
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def read_clip_refs(timeline: Path) -> dict[str, Any]:
    """The exported file read in the main venv by opentimelineio and the package's reader."""
    script = """
import json, sys
import opentimelineio as otio
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import read_timeline

raw = otio.adapters.read_from_file(sys.argv[1])
loaded = read_timeline(sys.argv[1])
refs = []
for ref in list_clips(loaded):
    rate = ref.timeline_fps
    refs.append({
        "clip_id": ref.clip_id, "name": ref.name, "track": ref.track_name,
        "record": [ref.record_range.start_time.rescaled_to(rate).value,
                   ref.record_range.duration.rescaled_to(rate).value],
        "source": [ref.source_range.start_time.value, ref.source_range.duration.value],
        "media_fps": ref.media_fps, "media_path": ref.media_path, "offline": ref.offline,
        "time_scalar": ref.time_scalar, "metadata": dict(ref.metadata),
    })
ours = {c.name: c.metadata.get("imagintalk", {}) for c in raw.find_clips()}
clips = {
    name: {"blender_strip": m["blender_strip"], "channel": m["channel"], "notes": list(m["notes"])}
    for name, m in ours.items()
}
print(json.dumps({"rate": float(loaded.rate), "start": loaded.start.value,
                  "tracks": [t.name for t in raw.tracks], "refs": refs, "clips": clips}))
"""
    return json.loads(run_main(["-c", script, str(timeline)]).stdout)
