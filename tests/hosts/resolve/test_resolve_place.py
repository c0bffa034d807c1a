"""Placements onto Resolve audio tracks at absolute frames, checked by reading the tracks back."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest
from resolve_fake_panel import placements_for
from resolve_standin import MediaPoolItem, Project, Resolve, Timeline, timeline_from_file, write_wav

from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import read_timeline

NTSC = Fraction(24000, 1001)


def _place_module():
    return sys.modules["imagintalk_resolve.place"]


def _project(rate: Fraction, start: int = 86400, audio_fps: Fraction | None = None) -> Project:
    timeline = Timeline("Scene 4", rate, start)
    picture = MediaPoolItem("/media/A001.mov", rate, 1000)
    timeline.add_video_clip(1, picture, 0, 48)
    timeline.add_video_clip(1, picture, 60, 30, left=100)
    return Project("Short Film", [timeline], audio_fps=audio_fps)


def _placement(tmp_path: Path, clip_id: str, start, duration, rate, track="ImaginTalk Dialogue"):
    wav = write_wav(tmp_path / f"{clip_id}.wav", seconds=2.0)
    return {
        "clip_id": clip_id,
        "clip_name": clip_id,
        "audio_path": str(wav),
        "rate": float(rate),
        "record_start": start,
        "duration": duration,
        "track_name": track,
        "take": 1,
    }


def _audio_spans(timeline: Timeline, index: int) -> list[tuple[int, int, str]]:
    return [
        (i.GetStart(), i.GetEnd(), i.GetName()) for i in timeline.GetItemListInTrack("audio", index)
    ]


@pytest.mark.parametrize("rate", [Fraction(24), Fraction(25), NTSC])
def test_clips_land_at_the_absolute_frames_asked(bridge, tmp_path, rate):
    project = _project(rate)
    timeline = project.GetCurrentTimeline()
    placements = [
        _placement(tmp_path, "V1-001", 0, 48, rate),
        _placement(tmp_path, "V1-002", 60, 30, rate),
    ]
    report = _place_module().place(project, timeline, placements)
    assert report == {"placed": ["V1-001", "V1-002"], "failed": []}
    assert timeline.GetTrackCount("audio") == 1
    assert timeline.GetTrackName("audio", 1) == "ImaginTalk Dialogue"
    assert timeline.GetTrackSubType("audio", 1) == "mono"
    assert _audio_spans(timeline, 1) == [
        (86400, 86448, "V1-001.wav"),
        (86460, 86490, "V1-002.wav"),
    ]
    bins = project.GetMediaPool().GetRootFolder().GetSubFolderList()
    assert [b.GetName() for b in bins] == ["ImaginTalk"]
    assert len(bins[0].GetClipList()) == 2
    assert project.GetMediaPool().GetCurrentFolder() is project.GetMediaPool().GetRootFolder()


def test_overlaps_go_to_extra_tracks_and_names_are_never_reused(bridge, tmp_path):
    rate = Fraction(25)
    project = _project(rate)
    timeline = project.GetCurrentTimeline()
    timeline.AddTrack("audio", "stereo")
    timeline.SetTrackName("audio", 1, "ImaginTalk Dialogue")  # an earlier pass
    placements = [
        _placement(tmp_path, "V1-001", 0, 48, rate),
        _placement(tmp_path, "V1-001b", 10, 48, rate),  # a second take over the first
        _placement(tmp_path, "V2-001", 0, 20, rate, track="ImaginTalk Dialogue - ALICE"),
    ]
    report = _place_module().place(project, timeline, placements)
    assert report == {"placed": ["V1-001", "V1-001b", "V2-001"], "failed": []}
    names = [timeline.GetTrackName("audio", i) for i in range(1, 5)]
    assert names == [
        "ImaginTalk Dialogue",
        "ImaginTalk Dialogue 2",
        "ImaginTalk Dialogue 3",
        "ImaginTalk Dialogue - ALICE",
    ]
    assert _audio_spans(timeline, 1) == []
    assert _audio_spans(timeline, 2) == [(86400, 86448, "V1-001.wav")]
    assert _audio_spans(timeline, 3) == [(86410, 86458, "V1-001b.wav")]


def test_read_back_catches_a_silently_dropped_overlapping_clip(bridge, tmp_path):
    place = _place_module()
    rate = Fraction(24)
    project = _project(rate)
    timeline = project.GetCurrentTimeline()
    index = place.add_audio_track(timeline, "Dialogue", "mono")
    media = place.import_audio(project.GetMediaPool(), [str(write_wav(tmp_path / "a.wav"))])
    (item,) = media.values()
    first = place.Job("V1-001", "a.wav", 86400, 48, "Dialogue", item, index)
    second = place.Job("V1-002", "a.wav", 86420, 48, "Dialogue", item, index)
    first.returned = place.append(project.GetMediaPool(), first, rate)
    second.returned = place.append(project.GetMediaPool(), second, rate)
    assert first.returned
    assert second.returned  # Resolve answers as if it had placed it ...
    outcome = place.read_back(timeline, index, "Dialogue", [first, second])
    assert outcome["V1-001"] == ""
    assert "dropped it silently" in outcome["V1-002"]  # ... but it is not on the track


def test_read_back_catches_a_fractional_frame(bridge, tmp_path):
    place = _place_module()
    rate = Fraction(24)
    project = _project(rate)
    timeline = project.GetCurrentTimeline()
    index = place.add_audio_track(timeline, "Dialogue", "mono")
    media = place.import_audio(project.GetMediaPool(), [str(write_wav(tmp_path / "a.wav"))])
    (item,) = media.values()
    job = place.Job("V1-001", "a.wav", 86400.5, 48, "Dialogue", item, index)
    job.returned = place.append(project.GetMediaPool(), job, rate)
    assert not job.returned
    outcome = place.read_back(timeline, index, "Dialogue", [job])
    assert "refused it" in outcome["V1-001"]
    assert _audio_spans(timeline, index) == []


def test_bad_placements_fail_with_a_reason_and_the_rest_is_placed(bridge, tmp_path):
    rate = Fraction(24)
    project = _project(rate)
    timeline = project.GetCurrentTimeline()
    placements = [
        _placement(tmp_path, "V1-001", 0, 48, rate),
        _placement(tmp_path, "V1-002", 10.5, 30, rate),  # a fractional frame
        _placement(tmp_path, "V1-003", 100, 24, Fraction(25)),  # another rate
        {**_placement(tmp_path, "V1-004", 130, 10, rate), "audio_path": str(tmp_path / "no.wav")},
    ]
    report = _place_module().place(project, timeline, placements)
    assert report["placed"] == ["V1-001"]
    reasons = {f["clip_id"]: f["reason"] for f in report["failed"]}
    assert list(reasons) == ["V1-002", "V1-003", "V1-004"]
    assert "not whole frames" in reasons["V1-002"]
    assert "25.0 fps is not the timeline's 24.000 fps" in reasons["V1-003"]
    assert "audio file not found" in reasons["V1-004"]
    assert _audio_spans(timeline, 1) == [(86400, 86448, "V1-001.wav")]


def test_nothing_is_placed_on_another_timeline(bridge, tmp_path):
    rate = Fraction(24)
    project = _project(rate)
    timeline = project.GetCurrentTimeline()
    project.SetCurrentTimeline(Timeline("Other", rate, 0))
    report = _place_module().place(project, timeline, [_placement(tmp_path, "V1-001", 0, 48, rate)])
    assert report["placed"] == []
    assert "no longer the current one" in report["failed"][0]["reason"]
    assert timeline.GetTrackCount("audio") == 0


def test_audio_clip_rate_differing_from_the_timeline_is_converted(bridge, tmp_path):
    project = _project(Fraction(25), audio_fps=Fraction(24))  # the audio clips' FPS is 24
    timeline = project.GetCurrentTimeline()
    report = _place_module().place(
        project, timeline, [_placement(tmp_path, "V1-001", 0, 50, Fraction(25))]
    )
    assert report == {"placed": ["V1-001"], "failed": []}
    assert _audio_spans(timeline, 1) == [(86400, 86450, "V1-001.wav")]


def test_a_take_placed_twice_is_imported_once(bridge, tmp_path):
    rate = Fraction(24)
    project = _project(rate)
    timeline = project.GetCurrentTimeline()
    placement = _placement(tmp_path, "V1-001", 0, 48, rate)
    for _ in range(2):
        assert _place_module().place(project, timeline, [placement])["placed"] == ["V1-001"]
    (bin_,) = project.GetMediaPool().GetRootFolder().GetSubFolderList()
    assert len(bin_.GetClipList()) == 1
    assert timeline.GetTrackCount("audio") == 2


def _resolve_exports(timelines_dir: Path) -> list[Path]:
    folder = timelines_dir / "ayon-core"
    if not folder.is_dir():
        pytest.skip(f"no ayon-core timelines at {folder}")
    found = [p for p in sorted(folder.glob("*.json")) if "Resolve_OTIO" in p.read_text("utf-8")]
    if not found:
        pytest.skip("no Resolve-exported OTIO files in ayon-core")
    return found


@pytest.mark.realdata
def test_flow_on_real_resolve_exports(bridge, timelines_dir, tmp_path):
    """Export -> our reader -> one placement per clip -> placed -> read back, per real file."""
    export = sys.modules["imagintalk_resolve.export"]
    for source in _resolve_exports(timelines_dir):
        timeline = timeline_from_file(source)
        project = Project(source.stem, [timeline])
        exported = export.export_timeline(Resolve("19"), timeline, tmp_path / f"{source.stem}.otio")
        placements = placements_for(str(exported.path), str(tmp_path / source.stem))
        refs = list_clips(read_timeline(exported.path))
        assert placements
        report = _place_module().place(project, timeline, placements)
        assert report == {"placed": [r.clip_id for r in refs], "failed": []}, source.name
        spans = _audio_spans(timeline, 1)
        start = timeline.GetStartFrame()
        expected = [
            (start + p["record_start"], start + p["record_start"] + p["duration"])
            for p in placements
        ]
        assert [(s, e) for s, e, _ in spans] == expected, source.name


def test_read_back_catches_a_clip_that_landed_elsewhere(bridge, tmp_path, monkeypatch):
    rate = Fraction(24)
    project = _project(rate)
    timeline = project.GetCurrentTimeline()
    original = Timeline.append

    def one_frame_late(self, info):
        return original(self, {**info, "recordFrame": info["recordFrame"] + 1})

    monkeypatch.setattr(Timeline, "append", one_frame_late)
    report = _place_module().place(project, timeline, [_placement(tmp_path, "V1-001", 0, 48, rate)])
    assert report["placed"] == []
    reason = report["failed"][0]["reason"]
    assert (
        reason
        == "landed at frames 86401-86449 instead of 86400-86448 on track 'ImaginTalk Dialogue'"
    )
