"""Every real interchange file in ../shared/realdata/timelines: read frame-exact, or refused
with a clean one-line error; never a crash."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from shared_data import REALDATA

from imagintalk_plugin.core.errors import TimelineReadError
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import read_timeline
from imagintalk_plugin.timeline.report import inspect_report
from imagintalk_plugin.timeline.timecode import to_frames

TIMELINES = REALDATA / "timelines"
_SKIP_SUFFIXES = {".md", ".txt", ".mov"}
FILES = (
    sorted(
        str(p.relative_to(TIMELINES))
        for p in TIMELINES.rglob("*")
        if p.is_file() and p.suffix.lower() not in _SKIP_SUFFIXES
    )
    if TIMELINES.is_dir()
    else []
)
NEEDS_DATA = pytest.mark.skipif(not FILES, reason=f"real timelines not found at {TIMELINES}")

# Files that are not timelines, or that the stock adapters cannot parse at all.
REFUSED = {
    "lossless-cut/mplayer.edl": "no CMX 3600 events",  # an MPlayer EDL, not CMX 3600
    "otio-cmx3600-adapter/dissolve_test_fail.edl": "reader failed",  # adapter bug on purpose
    "otio-fcp-adapter/premiere_example_filter.xml": "neither Final Cut Pro 7 XML",
    "otio-fcp-adapter/premiere_example_filter.json": "not OpenTimelineIO",
    "otio-fcpx-xml-adapter/fcpx_clips.fcpxml": "bin of 3",  # an event's clips, no sequence
}


@NEEDS_DATA
@pytest.mark.realdata
@pytest.mark.parametrize("name", FILES)
def test_every_file_reads_or_is_refused_cleanly(name):
    path = TIMELINES / name
    if name in REFUSED:
        with pytest.raises(TimelineReadError, match=REFUSED[name]) as caught:
            read_timeline(path)
        assert "\n" not in str(caught.value)
        assert str(path) in str(caught.value)
        return
    loaded = read_timeline(path)
    report = inspect_report(loaded, list_clips(loaded))
    for clip in report["clips"]:
        assert 0 <= clip["record_start_frame"] < clip["record_end_frame"]
        assert clip["offline"] or Path(clip["media_path"]).exists()


def _stock_expectations(timeline: otio.schema.Timeline, fps: float) -> dict[int, list]:
    """Per video track (1-based): record (start, end) frames of its direct clips, from the
    stock adapter's own objects; tracks holding nested compositions are left out."""
    expected = {}
    for index, track in enumerate(timeline.video_tracks(), start=1):
        if not track.enabled or any(
            isinstance(c, (otio.schema.Stack, otio.schema.Track)) for c in track
        ):
            continue
        spans = []
        for child in track:
            if not isinstance(child, otio.schema.Clip) or not child.enabled:
                continue
            if isinstance(child.media_reference, otio.schema.GeneratorReference):
                continue
            placed = child.range_in_parent()
            start = to_frames(placed.start_time, fps)
            end = start + to_frames(placed.duration, fps)
            if end > start:
                spans.append((start, end))
        expected[index] = spans
    return expected


@NEEDS_DATA
@pytest.mark.realdata
@pytest.mark.parametrize("name", [f for f in FILES if f not in REFUSED])
def test_record_ranges_match_the_stock_adapters(name):
    path = TIMELINES / name
    adapter = "otio_json" if path.suffix == ".json" else None  # OTIO JSON saved as .json
    try:
        stock = otio.adapters.read_from_file(str(path), adapter_name=adapter)
    except Exception:
        pytest.skip("the stock adapter cannot read this file; covered by the test above")
    loaded = read_timeline(path)
    clips = list_clips(loaded)
    if isinstance(stock, otio.schema.Clip):  # a one-clip export: the clip from frame 0
        expected = {1: [(0, to_frames(stock.trimmed_range().duration, loaded.fps))]}
    elif isinstance(stock, otio.schema.Timeline):
        expected = _stock_expectations(stock, loaded.fps)
    else:
        pytest.skip("a collection: the timeline picked from it is checked elsewhere")
    for track_index, spans in expected.items():
        ours = [
            (
                to_frames(c.record_range.start_time, loaded.fps),
                to_frames(c.record_range.end_time_exclusive(), loaded.fps),
            )
            for c in clips
            if c.track_index == track_index
        ]
        assert ours == spans, f"track {track_index}"


def _report(name: str) -> dict:
    loaded = read_timeline(TIMELINES / name)
    return inspect_report(loaded, list_clips(loaded))


@NEEDS_DATA
@pytest.mark.realdata
def test_drop_frame_5994_edl_is_frame_exact():
    report = _report("lossless-cut/edl/cmx3600_5994.edl")
    assert report["rate"] == pytest.approx(60000 / 1001)
    assert report["drop_frame"]
    assert report["start_timecode"] == "01:00:00;00"
    second = report["clips"][1]  # record 01:00:06;34 - 01:00:07;52 in the list
    assert (second["record_start_frame"], second["record_end_frame"]) == (394, 472)
    assert second["record_start_timecode"] == "01:00:06;34"
    assert len(report["clips"]) == 9


@NEEDS_DATA
@pytest.mark.realdata
def test_mixed_fcm_edl_with_speed_effects_reads():
    report = _report("lossless-cut/edl/070816_EG101_HEISTS_ROUGH_CUT_SOURCES_PART 1.edl")
    assert report["rate"] == pytest.approx(30000 / 1001)
    assert not report["drop_frame"]
    assert report["start_timecode"] == "01:00:00:00"
    second = report["clips"][1]  # record 01:00:00:25 - 01:00:01:16
    assert (second["record_start_frame"], second["record_end_frame"]) == (25, 46)
    assert any("speed" in n for c in report["clips"] for n in c["notes"])


@NEEDS_DATA
@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "rate", "start", "count"),
    [
        ("otio-aaf-adapter/2997fps-DFTC.aaf", 30000 / 1001, "05:00:00;00", 1),
        ("otio-aaf-adapter/2997fps.aaf", 30000 / 1001, "00:00:00:00", 2),
        ("otio-aaf-adapter/30fps.aaf", 30.0, "01:00:00:00", 2),
        ("lossless-cut/FCPXML_1_9.fcpxml", 25.0, "01:00:00:00", 173),
        ("lossless-cut/Final Cut Pro XMEML 2.xml", 60.0, "01:00:00:00", 9),
        ("otio-fcp-adapter/empty_name_tags.xml", 24000 / 1001, "00:00:00:00", 147),
        ("otio-cmx3600-adapter/timecode_mismatch.edl", 25.0, "00:00:00:00", 20),
        ("otio-cmx3600-adapter/25fps.edl", 25.0, "00:00:00:00", 4),
        ("OpenTimelineIO/premiere_example.otio", 30.0, "00:00:00:00", 6),
        ("ayon-core/timeline.json", 24000 / 1001, "01:00:00:00", 10),
    ],
)
def test_rates_starts_and_counts(name, rate, start, count):
    report = _report(name)
    assert report["rate"] == pytest.approx(rate)
    assert report["start_timecode"] == start
    assert len(report["clips"]) == count
