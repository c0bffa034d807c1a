"""Builders shared by the timeline tests."""

from __future__ import annotations

import opentimelineio as otio
from opentimelineio.opentime import RationalTime

from imagintalk_plugin.core.clips import ClipRef


def clip_ref_for(
    clip: otio.schema.Clip,
    index: int,
    rate: float,
    start: RationalTime,
    drop: bool,
    *,
    media_path: str | None = None,
    speaker: str | None = None,
) -> ClipRef:
    """The ClipRef of a clip on a one-video-track test timeline."""
    return ClipRef(
        clip_id=f"V1-{index:03d}",
        name=clip.name,
        track_name="V1",
        track_index=1,
        record_range=clip.range_in_parent(),
        source_range=clip.source_range,
        timeline_fps=rate,
        timeline_start=start,
        drop_frame=drop,
        media_path=media_path,
        media_fps=rate,
        speaker=speaker,
    )
