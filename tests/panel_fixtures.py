"""The panel's test scene and a take made without a model, shared by tests/panel_model (the
Qt-free model and controller) and tests/ui (the widgets).

The scene has two clips with faces on V1 (record frames 10 and 60, 30 frames each at 24 fps)
and an offline clip on V2; `fake_speech` is a complete take made without a model (for tests of
the controller and the saved session).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import opentimelineio as otio
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


def write_scene(videos: list[Path], folder: Path) -> Path:
    """folder/scene.otio: V1 = gap 10, line 1, gap 20, line 2; V2 = gap 110, an offline clip."""
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    v1.extend([_gap(10), _clip("line 1", videos[0]), _gap(20), _clip("line 2", videos[1])])
    v2 = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    v2.extend([_gap(110), _clip("line 3", folder / "missing.mp4")])
    timeline = otio.schema.Timeline(name="scene", global_start_time=START)
    timeline.tracks.extend([v1, v2])
    path = folder / "scene.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def fake_speech(clip_id: str, seed: int = 0, level: float = 0.1, seconds: float = 2.0) -> Any:
    """A pipeline `ClipSpeech` without a model: constant audio, counting units (every 10th
    changed by the "refiner"), a rising F0, two levels of codec tokens."""
    from imagintalk_plugin.core.signals import ProsodyCurves, TokenSequence, Waveform
    from imagintalk_plugin.pipeline.speech import ClipSpeech, TakeInfo

    steps = round(50 * seconds)
    tokens = (np.arange(steps) % 7).astype(np.int64)
    refined = tokens.copy()
    refined[::10] += 1
    confidence = np.linspace(0.2, 1.0, steps).astype(np.float32)
    frames = round(100 * seconds)
    return ClipSpeech(
        clip_id,
        Waveform(np.full(round(16000 * seconds), level, np.float32), 16000),
        ProsodyCurves(
            100.0,
            np.linspace(100, 200, frames).astype(np.float32),
            np.full(frames, -20.0, np.float32),
            np.arange(frames) % 3 > 0,
        ),
        TokenSequence(tokens, 50.0, "units", "v1", confidence),
        TokenSequence(refined, 50.0, "units", "v1", confidence),
        1.0 - confidence,
        TokenSequence(np.zeros((2, steps), np.int64), 50.0, "codec", "v1"),
        TakeInfo("tiny:fake", seed, "torch", {"steps": 2}),
    )


def face_voice(videos: list[Path]) -> Path:
    """The ground-truth speech of the first rendered face (16 kHz, a couple of seconds)."""
    path = videos[0].parent.parent / "audio" / f"{videos[0].stem}.wav"
    assert path.is_file()
    return path
