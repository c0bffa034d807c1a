"""A stand-in ImaginTalk panel: the real link server, no Qt, no model.

On `open` it reads the exported timeline with the package's reader, writes one silent take per
clip into the output folder and sends a `place` with one placement per clip (as the panel
does); on `placed` it closes the link. Used in-process (`FakePanel`) and as the panel command
(`python resolve_fake_panel.py RESULTS.json --link`: prints the ready line, writes what it
received).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from resolve_standin import write_wav

from imagintalk_plugin.hostlink import protocol
from imagintalk_plugin.hostlink.server import LinkServer
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import read_timeline
from imagintalk_plugin.timeline.timecode import to_frames

TRACK = "ImaginTalk Dialogue"


def placements_for(timeline_path: str, output_dir: str) -> list[dict[str, Any]]:
    """One placement per dubbable clip of the timeline, each with a silent take."""
    loaded = read_timeline(timeline_path)
    placements = []
    for ref in list_clips(loaded):
        wav = Path(output_dir) / "takes" / f"{ref.clip_id}_take1.wav"
        write_wav(wav, seconds=ref.duration_frames / ref.timeline_fps + 0.1)
        placements.append(
            {
                "clip_id": ref.clip_id,
                "clip_name": ref.name,
                "audio_path": str(wav),
                "rate": ref.timeline_fps,
                "record_start": to_frames(ref.record_range.start_time, loaded.rate),
                "duration": ref.duration_frames,
                "track_name": TRACK,
                "take": 1,
            }
        )
    return placements


class FakePanel:
    """A link server that places every clip of the timeline it is sent, then closes."""

    def __init__(self, token: str) -> None:
        self.received: list[dict[str, Any]] = []
        self.sent_placements: list[dict[str, Any]] = []
        self.done = threading.Event()
        self.server = LinkServer(token, self._on_message, self._on_gone, connect_timeout=60)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self.server.port

    def _on_message(self, message: dict[str, Any]) -> None:
        self.received.append(message)
        if message["type"] == "open":
            self.sent_placements = placements_for(message["timeline"], message["output_dir"])
            first = self.sent_placements[0]["clip_id"] if self.sent_placements else "-"
            self.server.send(
                {"type": "progress", "done": 0, "total": 1, "clip_id": first,
                 "stage": "lips", "fraction": 0.5}
            )  # fmt: skip
            self.server.send({"type": "place", "placements": self.sent_placements})
        elif message["type"] == "placed":
            self.done.set()
            self.server.close()

    def _on_gone(self, reason: str) -> None:
        self.received.append({"type": "gone", "reason": reason})
        self.done.set()


def _serve(results: Path) -> None:
    panel = FakePanel(os.environ[protocol.TOKEN_ENV])
    sys.stdout.write(f"{protocol.READY_PREFIX}{panel.port}\n")
    sys.stdout.flush()
    panel.done.wait(60)
    panel.server.close()
    results.write_text(json.dumps(panel.received), encoding="utf-8")


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
