"""Panel fixtures: a tiny random checkpoint, two rendered talking faces and a scene over them.

Qt runs offscreen (set before anything imports Qt). The timeline has two clips with faces on
V1 (record frames 10 and 60, 30 frames each at 24 fps) and an offline clip on V2. `make_panel`
opens a panel window on that scene with the tiny checkpoint (2 diffusion steps, one thread);
`run_clips` presses Run selected (or Regenerate) and waits for the takes; `fake_speech` is a
complete take made without a model (for tests of the controller and the saved session).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

RATE = 24
START = RationalTime.from_timecode("01:00:00:00", RATE)
FACE_CLIPS = ("V1-001", "V1-002")
OFFLINE_CLIP = "V2-001"
RUN_TIMEOUT_MS = 180_000  # generous: a training job may share the CPU


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


@pytest.fixture
def store(tmp_path: Path) -> Any:
    """A throwaway QSettings file for the panel's settings."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "panel.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_panel(qtbot, store: Any, checkpoint: Path, scene: Path) -> Iterator[Callable[..., Any]]:
    """Makes panel windows on the scene; their workers are stopped after the test."""
    from imagintalk_plugin.ui.controller import PanelController
    from imagintalk_plugin.ui.panel import PanelWindow
    from imagintalk_plugin.ui.state import StyleSettings

    windows: list[PanelWindow] = []

    def make(folder: Path = checkpoint, cache: Any = None) -> PanelWindow:
        window = PanelWindow(PanelController(StyleSettings(steps=2)), store=store, cache=cache)
        qtbot.addWidget(window)
        windows.append(window)
        window.settings_box.threads.setValue(1)  # leave the other core alone
        window.settings_box.use_checkpoint(folder)
        assert window.open_timeline(scene)
        window.show()
        return window

    yield make
    from shiboken6 import isValid

    for window in windows:
        if isValid(window) and window.isVisible():  # pytest-qt closes (and deletes) the rest
            window.shutdown()


def run_clips(qtbot, window: Any, clip_ids: list[str], regenerate: bool = False) -> None:
    """Select the clips, press Run selected (or Regenerate) and wait for a new take of each."""
    from PySide6.QtCore import Qt

    window.clip_table.select(clip_ids)
    button = window.style_panel.regenerate if regenerate else window.run_selected_button
    before = {i: len(window.controller.clip(i).takes) for i in clip_ids}
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            all(len(window.controller.clip(i).takes) > before[i] for i in clip_ids)
            and not window.controller.busy()
        ),
        timeout=RUN_TIMEOUT_MS,
    )


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
