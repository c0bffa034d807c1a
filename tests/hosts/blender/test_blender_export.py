"""Sequencer -> OTIO: the bridge's file, read back by the main venv's reader, frame-exact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bpy
import pytest
from blender_main_venv import read_clip_refs
from blender_scenes import add_movie, add_movie_like_the_ui, new_scene

LENGTH = {"24": 48, "25": 50, "23976": 48}  # frames in the media fixture's clips
RATES = [
    pytest.param(24, 1.0, "24", 24.0, id="24fps"),
    pytest.param(25, 1.0, "25", 25.0, id="25fps"),
    pytest.param(24, 1.001, "23976", 24000 / 1001, id="23.976fps"),
]


def _two_channel_scene(fps: int, base: float, clip: Path) -> Any:
    """Three strips of one clip: two on channel 1 (trimmed, hold-offset), one on channel 3."""
    scene = new_scene(f"edit-{fps}-{base}", fps, base, frame_start=101)
    first = add_movie(scene, "shot A", clip, channel=1, frame=101)
    first.frame_offset_start = 5  # handle moved in: first visible frame 106
    first.frame_offset_end = 3
    second = add_movie(scene, "shot B", clip, channel=1, frame=170)
    second.animation_offset_start = 4  # the movie's first 4 frames cut off at the source
    third = add_movie(scene, "shot C", clip, channel=3, frame=120)
    third.frame_final_start = 125
    third.frame_final_end = 150
    first.select = third.select = True
    return scene


@pytest.mark.parametrize(("fps", "base", "clip", "rate"), RATES)
def test_selected_strips_read_back_exactly(bridge, media, tmp_path, fps, base, clip, rate):
    scene = _two_channel_scene(fps, base, media[clip])
    path = tmp_path / "edit.otio"
    result = bridge.otio_export.export_timeline(scene, path, True, bpy.path.abspath)
    assert result.strips == ("shot A", "shot C")

    read = read_clip_refs(path)
    assert read["rate"] == pytest.approx(rate)
    assert read["start"] == 101
    assert read["tracks"] == ["Channel 1", "Channel 3"]
    refs = {r["name"]: r for r in read["refs"]}
    assert refs["shot A"]["clip_id"] == "V1-001"
    length = LENGTH[clip] - 5 - 3
    assert refs["shot A"]["record"] == [5, length]  # 106 - 101
    assert refs["shot A"]["source"] == [5, length]
    assert refs["shot C"]["clip_id"] == "V2-001"
    assert refs["shot C"]["track"] == "Channel 3"
    assert refs["shot C"]["record"] == [24, 25]
    assert refs["shot C"]["source"] == [5, 25]
    for ref in refs.values():
        assert ref["media_fps"] == pytest.approx(rate)
        assert not ref["offline"]
        assert ref["time_scalar"] == 1.0
        assert Path(ref["media_path"]) == media[clip]
    assert read["clips"]["shot C"]["blender_strip"] == "shot C"
    assert read["clips"]["shot C"]["channel"] == 3


@pytest.mark.parametrize(("fps", "base", "clip", "rate"), RATES)
def test_all_strips_with_gaps_and_hold_offsets(bridge, media, tmp_path, fps, base, clip, rate):
    scene = _two_channel_scene(fps, base, media[clip])
    path = tmp_path / "all.otio"
    bridge.otio_export.export_timeline(scene, path, False, bpy.path.abspath)
    refs = {r["name"]: r for r in read_clip_refs(path)["refs"]}
    assert refs["shot B"]["clip_id"] == "V1-002"
    length = LENGTH[clip] - 4  # the first 4 frames held off
    assert refs["shot B"]["record"] == [69, length]  # 170 - 101
    assert refs["shot B"]["source"] == [4, length]
    assert refs["shot B"]["media_fps"] == pytest.approx(rate)


def test_the_json_is_what_opentimelineio_writes(bridge, media, tmp_path):
    otio = pytest.importorskip("opentimelineio")
    scene = _two_channel_scene(24, 1.0, media["24"])
    path = tmp_path / "edit.otio"
    bridge.otio_export.export_timeline(scene, path, False, bpy.path.abspath)
    ours = json.loads(path.read_text(encoding="utf-8"))
    theirs = json.loads(otio.adapters.read_from_file(str(path)).to_json_string())
    assert ours == theirs  # every field, schema version and value as OTIO itself writes them


def test_a_movie_at_another_rate(bridge, media, tmp_path):
    """A 25 fps movie in a 24 fps scene: from the UI it plays at its own speed; added by a
    script (`new_movie`) it plays frame by frame, i.e. at 24/25 speed."""
    scene = new_scene("mixed", 24, frame_start=1)
    ui_strip = add_movie_like_the_ui(scene, "ui", media["25"], channel=1, frame=1)
    assert ui_strip.frame_duration == 48  # 50 frames at 25 fps last 48 frames at 24 fps
    ui_strip.frame_final_start = 13  # 12 scene frames = 12.5 movie frames in
    scripted = add_movie(scene, "scripted", media["25"], channel=2, frame=11)
    scripted.frame_final_start = 16
    handles = [(s.frame_final_start, s.frame_final_end) for s in (ui_strip, scripted)]
    path = tmp_path / "mixed.otio"
    bridge.otio_export.export_timeline(scene, path, False, bpy.path.abspath)
    assert scene.render.fps_base == 1.0  # the rate probe put it back
    assert [(s.frame_final_start, s.frame_final_end) for s in (ui_strip, scripted)] == handles

    refs = {r["name"]: r for r in read_clip_refs(path)["refs"]}
    assert refs["ui"]["record"] == [12, 36]
    assert refs["ui"]["media_fps"] == 25.0
    assert refs["ui"]["source"] == [12, 38]  # round(12.5) (banker's), round(36 * 25 / 24)
    assert refs["ui"]["time_scalar"] == 1.0
    assert refs["scripted"]["record"] == [15, 45]
    assert refs["scripted"]["source"] == [5, 45]
    assert refs["scripted"]["time_scalar"] == pytest.approx(24 / 25)


def test_strips_before_the_scene_start_are_cut_or_left_out(bridge, media, tmp_path):
    scene = new_scene("early", 25, frame_start=100)
    add_movie(scene, "gone", media["25"], channel=1, frame=10)
    add_movie(scene, "straddles", media["25"], channel=2, frame=80)
    path = tmp_path / "early.otio"
    result = bridge.otio_export.export_timeline(scene, path, False, bpy.path.abspath)
    assert result.strips == ("straddles",)
    assert any("gone" in s for s in result.skipped)
    (ref,) = read_clip_refs(path)["refs"]
    assert ref["record"] == [0, 30]  # frames 80-129, seen from 100
    assert ref["source"] == [20, 30]


def test_nothing_to_export_is_an_error(bridge, media, tmp_path):
    scene = new_scene("empty", 25)
    add_movie(scene, "muted", media["25"], channel=1, frame=1).mute = True
    add_movie(scene, "unselected", media["25"], channel=2, frame=1)
    export = bridge.otio_export.export_timeline
    with pytest.raises(bridge.otio_export.ExportError, match="no selected movie strips"):
        export(scene, tmp_path / "x.otio", True, bpy.path.abspath)
    scene.sequence_editor.channels[2].mute = True
    with pytest.raises(bridge.otio_export.ExportError, match="muted"):
        export(scene, tmp_path / "x.otio", False, bpy.path.abspath)
