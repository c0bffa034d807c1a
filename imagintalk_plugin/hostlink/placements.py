"""Placed takes as the host link's `place` message: whole frames a host's API takes directly.

Hosts place clips by frame number on their own timeline, so the panel sends each take's record
range as whole frames at the timeline's rate, counted from the timeline's first frame (frame 0;
the bridge adds its own start frame). Imports `core` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.clips import PlacedAudio


def placement_messages(placements: Sequence[PlacedAudio]) -> list[dict[str, Any]]:
    """One protocol placement per placed take (see `hostlink.protocol`)."""
    messages = []
    for placed in placements:
        rate = float(placed.clip.timeline_fps)
        record = placed.record_range
        messages.append(
            {
                "clip_id": placed.clip.clip_id,
                "clip_name": placed.clip.name,
                "audio_path": str(Path(placed.audio_path).resolve()),
                "rate": rate,
                "record_start": round(record.start_time.rescaled_to(rate).value),
                "duration": round(record.duration.rescaled_to(rate).value),
                "track_name": placed.dialogue_track,
                "take": placed.take,
            }
        )
    return messages
