"""The timeline to OTIO: Resolve's exporter and the API walk give the same clips to our reader."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from resolve_standin import MediaPoolItem, Resolve, Timeline, timeline_from_file

from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import read_timeline

NTSC = Fraction(24000, 1001)


def _standin(rate: Fraction, start: int = 86400, drop: bool = False) -> Timeline:
    """Two video tracks with gaps, trims, an image sequence, a title and a disabled clip."""
    timeline = Timeline("Scene 12", rate, start, drop_frame=drop)
    a = MediaPoolItem("/media/A001_C002.mov", rate, 500)
    b = MediaPoolItem("/media/B003_C001.mov", rate, 300)
    seq = MediaPoolItem("/plates/sh010/sh010.[1001-1100].exr", rate, 100)
    timeline.add_video_clip(1, a, 0, 48, left=12)
    timeline.add_video_clip(1, b, 48, 30, left=0)
    timeline.add_video_clip(1, a, 100, 24, left=200)  # after a 22-frame gap
    timeline.add_video_clip(2, None, 0, 10, name="Title")  # a generator: nothing to dub
    timeline.add_video_clip(2, seq, 20, 40, left=5)
    return timeline


def _comparable(ref):
    return (
        ref.clip_id,
        ref.name,
        ref.track_name,
        ref.track_index,
        ref.record_range,
        ref.source_range,
        ref.timeline_fps,
        ref.timeline_start,
        ref.drop_frame,
        ref.media_path,
        ref.media_fps,
        ref.available_range,
        ref.offline,
    )


def _export(bridge, resolve, timeline, path: Path):
    export = sys.modules["imagintalk_resolve.export"]
    return export.export_timeline(resolve, timeline, path)


@pytest.mark.parametrize("rate", [Fraction(24), Fraction(25), NTSC])
def test_api_export_and_walk_give_the_same_clips(bridge, tmp_path, rate):
    timeline = _standin(rate)
    by_api = _export(bridge, Resolve("19"), timeline, tmp_path / "api.otio")
    timeline.export_works = False
    by_walk = _export(bridge, Resolve("19"), timeline, tmp_path / "walk.otio")
    assert (by_api.method, by_walk.method) == ("resolve", "walk")
    assert "failed" in by_walk.note
    api_refs = list_clips(read_timeline(by_api.path))
    walk_refs = list_clips(read_timeline(by_walk.path))
    assert [_comparable(r) for r in walk_refs] == [_comparable(r) for r in api_refs]
    assert [r.clip_id for r in walk_refs] == ["V1-001", "V1-002", "V1-003", "V2-001"]
    loaded = read_timeline(by_walk.path)
    assert loaded.rate == rate
    assert loaded.start.value == 86400
    starts = [(r.record_range.start_time.value, r.record_range.duration.value) for r in walk_refs]
    assert starts == [(0, 48), (48, 30), (100, 24), (20, 40)]


def test_export_uses_resolve_exporter_with_its_constants(bridge, tmp_path):
    timeline = _standin(Fraction(25))
    resolve = Resolve("20")
    result = _export(bridge, resolve, timeline, tmp_path / "t.otio")
    assert result.method == "resolve"
    assert timeline.exports == [
        (str(tmp_path / "t.otio"), resolve.EXPORT_OTIO, resolve.EXPORT_NONE)
    ]


def test_no_export_constant_means_the_walk(bridge, tmp_path):
    resolve = Resolve("19")
    del resolve.EXPORT_OTIO
    timeline = _standin(Fraction(24), start=0)
    result = _export(bridge, resolve, timeline, tmp_path / "t.otio")
    assert result.method == "walk"
    assert "no OTIO export" in result.note
    assert timeline.exports == []
    assert read_timeline(result.path).start.value == 0


def test_walk_keeps_drop_frame(bridge, tmp_path):
    timeline = _standin(Fraction(30000, 1001), start=107892, drop=True)
    timeline.export_works = False
    loaded = read_timeline(_export(bridge, Resolve("19"), timeline, tmp_path / "df.otio").path)
    assert loaded.drop_frame
    assert loaded.rate == Fraction(30000, 1001)


def test_walk_writes_the_json_opentimelineio_writes(bridge, tmp_path):
    """Our stdlib JSON, read and written back by opentimelineio, is unchanged, field for field."""
    timeline = _standin(NTSC)
    timeline.export_works = False
    path = _export(bridge, Resolve("19"), timeline, tmp_path / "walk.otio").path
    ours = json.loads(path.read_text(encoding="utf-8"))
    theirs = json.loads(otio.adapters.write_to_string(otio.adapters.read_from_file(str(path))))
    assert theirs == ours


def _resolve_exports(timelines_dir: Path) -> list[Path]:
    folder = timelines_dir / "ayon-core"
    if not folder.is_dir():
        pytest.skip(f"no ayon-core timelines at {folder}")
    found = [p for p in sorted(folder.glob("*.json")) if "Resolve_OTIO" in p.read_text("utf-8")]
    if not found:
        pytest.skip("no Resolve-exported OTIO files in ayon-core")
    return found


@pytest.mark.realdata
def test_real_resolve_exports_read_the_same_by_api_and_walk(bridge, timelines_dir, tmp_path):
    files = _resolve_exports(timelines_dir)
    assert len(files) >= 5
    for source in files:
        timeline = timeline_from_file(source)
        api = _export(bridge, Resolve("19"), timeline, tmp_path / f"{source.stem}_api.otio")
        assert api.path.read_bytes() == source.read_bytes()
        timeline.export_works = False
        walk = _export(bridge, Resolve("19"), timeline, tmp_path / f"{source.stem}_walk.otio")
        original = list_clips(read_timeline(source))
        via_api = list_clips(read_timeline(api.path))
        via_walk = list_clips(read_timeline(walk.path))
        assert [_comparable(r) for r in via_api] == [_comparable(r) for r in original]
        assert [(r.clip_id, r.record_range) for r in via_walk] == [
            (r.clip_id, r.record_range) for r in original
        ], source.name
