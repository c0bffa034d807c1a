"""A stand-in for `python -m imagintalk_plugin.ui --link`, for the bridge's session tests.

Speaks the real protocol through the real `LinkServer` and reads the bridge's timeline with the
real reader, but runs no models and shows no window: each clip "finishes" at once with a silent
take of exactly its length. Run by the main venv's Python. `FAKE_PANEL_MODE`: `ok` (default),
`crash` (exits before listening), `refuse` (answers `open` with an error). The `placed` report it
receives is written to `$FAKE_PANEL_REPORT` when set.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import wave
from pathlib import Path
from typing import Any

from imagintalk_plugin.hostlink.protocol import READY_PREFIX, TOKEN_ENV
from imagintalk_plugin.hostlink.server import LinkServer
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import read_timeline


def _silence(path: Path, frames: int, fps: float, sample_rate: int = 16000) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(b"\0\0" * round(frames / fps * sample_rate))


def _dub(server: LinkServer, message: dict[str, Any]) -> list[dict[str, Any]]:
    """'Dub' every clip of the opened timeline; returns the placements for them."""
    refs = list_clips(read_timeline(message["timeline"]))
    out = Path(message["output_dir"])
    placements = []
    for done, ref in enumerate(refs):
        server.send(
            {
                "type": "progress",
                "done": done,
                "total": len(refs),
                "clip_id": ref.clip_id,
                "stage": "speech",
                "fraction": 0.5,
            }
        )
        rate = ref.timeline_fps
        start = round(ref.record_range.start_time.rescaled_to(rate).value)
        audio = out / f"{ref.clip_id}_take1.wav"
        _silence(audio, ref.duration_frames, rate)
        placements.append(
            {
                "clip_id": ref.clip_id,
                "clip_name": ref.name,
                "audio_path": str(audio),
                "rate": rate,
                "record_start": start,
                "duration": ref.duration_frames,
                "track_name": "ImaginTalk Dialogue",
                "take": 1,
            }
        )
        server.send({"type": "finished", "clip_id": ref.clip_id, "status": "done", "reason": ""})
    return placements


def main() -> int:
    """Serve one host until it leaves."""
    mode = os.environ.get("FAKE_PANEL_MODE", "ok")
    if mode == "crash":
        sys.stderr.write("fake panel: no checkpoint found\n")
        return 3
    inbox: queue.Queue[dict[str, Any]] = queue.Queue()
    server = LinkServer(
        os.environ.pop(TOKEN_ENV),
        inbox.put,
        lambda reason: inbox.put({"type": "_gone", "reason": reason}),
        connect_timeout=30.0,
    )
    sys.stdout.write(f"{READY_PREFIX}{server.port}\n")
    sys.stdout.flush()
    placements: list[dict[str, Any]] = []
    while True:
        message = inbox.get()
        kind = message["type"]
        if kind == "_gone":
            break
        if kind == "open" and mode == "refuse":
            server.send({"type": "error", "reason": "cannot open this timeline"})
        elif kind == "open":
            placements = _dub(server, message) if message.get("dub") else []
        elif kind == "place_request":
            server.send({"type": "place", "placements": placements})
        elif kind == "placed" and os.environ.get("FAKE_PANEL_REPORT"):
            report = Path(os.environ["FAKE_PANEL_REPORT"])
            partial = report.with_suffix(".partial")  # renamed whole: the test never reads half
            partial.write_text(json.dumps(message), encoding="utf-8")
            partial.replace(report)
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
