"""Panel fixtures: a tiny random checkpoint, two rendered talking faces and a scene over them.

Qt runs offscreen (set before anything imports Qt). The timeline has two clips with faces on
V1 (record frames 10 and 60, 30 frames each at 24 fps) and an offline clip on V2.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

RATE = 24
START = RationalTime.from_timecode("01:00:00:00", RATE)
FACE_CLIPS = ("V1-001", "V1-002")
OFFLINE_CLIP = "V2-001"


def _gap(frames: int) -> otio.schema.Gap:
    return otio.schema.Gap(
        source_range=TimeRange(RationalTime(0, RATE), RationalTime(frames, RATE))
    )


def _clip(name: str, path: Path) -> otio.schema.Clip:
    return otio.schema.Clip(
        name=name,
        media_reference=otio.schema.ExternalReference(target_url=path.as_uri()),
        source_range=TimeRange(RationalTime(2, RATE), RationalTime(30, RATE)),
    )


@pytest.fixture
def scene(videos: list[Path], tmp_path: Path) -> Path:
    """scene.otio: V1 = gap 10, line 1, gap 20, line 2; V2 = gap 110, an offline clip."""
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    v1.extend([_gap(10), _clip("line 1", videos[0]), _gap(20), _clip("line 2", videos[1])])
    v2 = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    v2.extend([_gap(110), _clip("line 3", tmp_path / "missing.mp4")])
    timeline = otio.schema.Timeline(name="scene", global_start_time=START)
    timeline.tracks.extend([v1, v2])
    path = tmp_path / "scene.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path
