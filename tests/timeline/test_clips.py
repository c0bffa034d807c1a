"""Dubbable clips from timelines built here: exact record frames, nesting, speed, offline."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import read_timeline
from imagintalk_plugin.timeline.report import inspect_report

RATES = [
    (24000 / 1001, False),
    (24.0, False),
    (25.0, False),
    (30000 / 1001, True),
    (30000 / 1001, False),
    (30.0, False),
    (50.0, False),
    (60000 / 1001, True),
    (60.0, False),
]


def _clip(name: str, start: int, frames: int, rate: float, url: str | None) -> otio.schema.Clip:
    ref = otio.schema.ExternalReference(target_url=url) if url else otio.schema.MissingReference()
    ref.available_range = TimeRange(RationalTime(0, rate), RationalTime(10_000, rate))
    return otio.schema.Clip(
        name=name,
        media_reference=ref,
        source_range=TimeRange(RationalTime(start, rate), RationalTime(frames, rate)),
    )


def _gap(frames: int, rate: float) -> otio.schema.Gap:
    return otio.schema.Gap(
        source_range=TimeRange(RationalTime(0, rate), RationalTime(frames, rate))
    )


def _timeline(tmp_path: Path, rate: float, drop: bool) -> Path:
    media = tmp_path / "take_a.mov"
    media.write_bytes(b"not really a movie")
    timeline = otio.schema.Timeline(name="cut")
    hour = "01:00:00;00" if drop else "01:00:00:00"
    timeline.global_start_time = otio.opentime.from_timecode(hour, rate)
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(_gap(10, rate))
    video.append(_clip("A", 100, 48, rate, media.as_uri()))
    video.append(
        otio.schema.Transition(in_offset=RationalTime(6, rate), out_offset=RationalTime(6, rate))
    )
    fast = _clip("B", 500, 40, rate, "missing/take_b.mov")
    fast.effects.append(otio.schema.LinearTimeWarp(time_scalar=2.0))
    video.append(fast)
    bars = otio.schema.Clip(
        name="bars",
        media_reference=otio.schema.GeneratorReference(generator_kind="SMPTEBars"),
        source_range=TimeRange(RationalTime(0, rate), RationalTime(12, rate)),
    )
    video.append(bars)
    off = _clip("disabled", 0, 5, rate, media.as_uri())
    off.enabled = False
    video.append(off)
    timeline.tracks.append(video)
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(_clip("dialogue", 0, 48, rate, media.as_uri()))
    timeline.tracks.append(audio)
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


@pytest.mark.parametrize(("rate", "drop"), RATES)
def test_record_ranges_and_timecodes_are_frame_exact(tmp_path, rate, drop):
    loaded = read_timeline(_timeline(tmp_path, rate, drop))
    assert loaded.drop_frame == drop
    clips = list_clips(loaded)
    assert [c.name for c in clips] == ["A", "B"]
    report = inspect_report(loaded, clips)
    a, b = report["clips"]
    assert report["start_timecode"] == ("01:00:00;00" if drop else "01:00:00:00")
    assert (a["record_start_frame"], a["record_end_frame"]) == (10, 58)
    assert (b["record_start_frame"], b["record_end_frame"]) == (58, 98)
    assert a["id"] == "V1-001"
    assert b["id"] == "V1-002"
    assert a["record_start_timecode"] == ("01:00:00;10" if drop else "01:00:00:10")
    assert not a["offline"]
    assert b["offline"]
    assert a["handle_head_frames"] == 100
    # B plays at 2x: 40 timeline frames consume 80 frames of media
    assert (b["source_start_frame"], b["source_end_frame"]) == (500, 580)
    assert clips[1].time_scalar == 2.0
    assert any("transition out" in n for n in a["notes"])
    assert any("speed effect 200%" in n for n in b["notes"])


def test_nested_stack_is_flattened_top_layer_first(tmp_path):
    rate = 24.0
    nested = otio.schema.Stack(name="comp")
    lower = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    lower.append(_clip("under", 0, 30, rate, None))
    upper = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    upper.append(_gap(10, rate))
    upper.append(_clip("over", 200, 10, rate, None))
    nested.extend([lower, upper])
    nested.source_range = TimeRange(RationalTime(5, rate), RationalTime(20, rate))  # trims 5..25
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(_gap(100, rate))
    track.append(nested)
    timeline = otio.schema.Timeline(tracks=[track])
    path = tmp_path / "nested.otio"
    otio.adapters.write_to_file(timeline, str(path))
    loaded = read_timeline(path)
    spans = [
        (
            c.name,
            c.record_range.start_time.value,
            c.duration_frames,
            c.source_range.start_time.value,
        )
        for c in list_clips(loaded)
    ]
    # stack time 5..10 shows "under" (media 5..10), 10..20 "over", 20..25 "under" again
    assert spans == [("under", 100, 5, 5), ("over", 105, 10, 200), ("under", 115, 5, 20)]


def test_single_clip_export_becomes_a_one_clip_timeline(tmp_path):
    clip = _clip("solo", 1000, 50, 25.0, None)
    path = tmp_path / "solo.json"
    otio.adapters.write_to_file(clip, str(path), adapter_name="otio_json")
    loaded = read_timeline(path)
    (ref,) = list_clips(loaded)
    assert ref.record_range.start_time.value == 0
    assert ref.duration_frames == 50
    assert loaded.fps == 25.0


@pytest.mark.parametrize(
    ("track_name", "metadata", "speaker"),
    [
        ("ALICE", {}, "ALICE"),  # an editor's character track
        ("V1", {}, None),  # default names say nothing of who speaks
        ("Video 2", {}, None),
        ("Channel 3", {}, None),  # Blender's sequencer channels
        ("ALICE", {"imagintalk": {"speaker": "BOB"}}, "BOB"),  # the clip's own label wins
    ],
)
def test_speaker_label_from_clip_metadata_or_a_named_track(
    tmp_path: Path, track_name: str, metadata: dict, speaker: str | None
) -> None:
    clip = _clip("take", 0, 25, 25.0, "take.mp4")
    clip.metadata.update(metadata)
    track = otio.schema.Track(name=track_name, kind=otio.schema.TrackKind.Video)
    track.append(clip)
    timeline = otio.schema.Timeline(name="t")
    timeline.tracks.append(track)
    path = tmp_path / "t.otio"
    otio.adapters.write_to_file(timeline, str(path))
    (ref,) = list_clips(read_timeline(path))
    assert ref.speaker == speaker
