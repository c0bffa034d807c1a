"""Core types check their shapes where they are made and carry exact times."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.core import (
    ClipRef,
    LipTrack,
    ProsodyCurves,
    StyleVector,
    TimelineReadError,
    TokenSequence,
    Waveform,
)


def _clip(**changes) -> ClipRef:
    base = {
        "clip_id": "V1-001",
        "name": "take 3",
        "track_name": "V1",
        "track_index": 1,
        "record_range": TimeRange(RationalTime(48, 24), RationalTime(72, 24)),
        "source_range": TimeRange(RationalTime(100, 24), RationalTime(72, 24)),
        "timeline_fps": 24.0,
        "timeline_start": RationalTime(86400, 24),
        "drop_frame": False,
        "media_path": "/media/take3.mov",
        "media_fps": 24.0,
        "available_range": TimeRange(RationalTime(90, 24), RationalTime(200, 24)),
    }
    base.update(changes)
    return ClipRef(**base)


def test_clipref_is_frozen_and_knows_its_handles():
    clip = _clip()
    assert clip.duration_frames == 72
    assert clip.handle_head.value == 10
    assert clip.handle_tail.value == 200 + 90 - (100 + 72)
    with pytest.raises(dataclasses.FrozenInstanceError):
        clip.name = "other"  # type: ignore[misc]
    assert _clip(available_range=None).handle_head is None


def test_liptrack_rejects_mismatched_frames():
    t = 5
    good = {
        "clip_id": "V1-001",
        "fps": 25.0,
        "start": RationalTime(0, 25),
        "mouth_crops": np.zeros((t, 88, 88), np.uint8),
        "landmarks": np.zeros((t, 68, 2), np.float32),
        "valid": np.ones(t, bool),
        "face_embedding": np.zeros(128, np.float32),
        "expressions": np.zeros((t, 8), np.float32),
    }
    assert LipTrack(**good).num_frames == t
    with pytest.raises(ValueError, match="landmarks"):
        LipTrack(**{**good, "landmarks": np.zeros((t - 1, 68, 2), np.float32)})


def test_token_sequence_knows_its_codebook_and_checks_confidence():
    seq = TokenSequence(np.arange(10), 50.0, "kmeans-200", "1", np.ones(10, np.float32))
    assert seq.num_steps == 10
    assert seq.is_compatible("kmeans-200", "1")
    assert not seq.is_compatible("kmeans-200", "2")
    with pytest.raises(ValueError, match="confidence"):
        TokenSequence(np.arange(10), 50.0, "k", "1", np.ones(9, np.float32))
    with pytest.raises(ValueError, match="integers"):
        TokenSequence(np.zeros(10, np.float32), 50.0, "k", "1")


def test_style_prosody_and_waveform_validate():
    with pytest.raises(ValueError, match="emotion"):
        StyleVector(np.zeros(4, np.float32), emotion="bored")
    with pytest.raises(ValueError, match="fps"):
        StyleVector(np.zeros(4, np.float32), prosody=np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="differ"):
        ProsodyCurves(100.0, np.zeros(4), np.zeros(3), np.zeros(4, bool))
    wave = Waveform(np.zeros((2, 16000), np.float32), 16000)
    assert wave.num_channels == 2
    assert wave.duration.to_seconds() == 1.0


def test_errors_are_one_line_and_name_the_file():
    err = TimelineReadError("/tmp/cut.edl", "bad\nthings   happened")
    assert "\n" not in str(err)
    assert "/tmp/cut.edl" in str(err)
    assert err.exit_code == 2
