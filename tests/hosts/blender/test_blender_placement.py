"""Placements -> sound strips: new named channels, frame-exact, kept through save and reopen."""

from __future__ import annotations

import bpy
from blender_scenes import add_movie, new_scene, sound_strips, write_wav


def _placement(clip_id, audio, start, duration, rate=24.0, take=1):
    return {
        "clip_id": clip_id,
        "clip_name": f"shot {clip_id}",
        "audio_path": str(audio),
        "rate": rate,
        "record_start": start,
        "duration": duration,
        "track_name": "ImaginTalk Dialogue",
        "take": take,
    }


def _scene_with_two_channels(media):
    scene = new_scene("placing", 24, frame_start=10)
    add_movie(scene, "A", media["24"], channel=1, frame=15)
    add_movie(scene, "B", media["24"], channel=2, frame=30)
    return scene


def test_takes_land_frame_exact_on_a_named_channel(bridge, media, tmp_path):
    scene = _scene_with_two_channels(media)
    first = write_wav(tmp_path / "a.wav", 30, 24.0)
    second = write_wav(tmp_path / "b.wav", 24, 24.0)
    third = write_wav(tmp_path / "c.wav", 11, 24.0)
    placements = [
        _placement("V1-001", first, 5, 30),
        _placement("V2-001", second, 20, 24),  # overlaps V1-001 in time: a second lane
        _placement("V1-002", third, 60, 11),  # fits after V1-001 on the first lane
    ]
    undo = []
    report = bridge.placement.apply_placements(scene, placements, undo_push=undo.append)

    assert report == {"placed": ["V1-001", "V2-001", "V1-002"], "failed": []}
    assert len(undo) == 1
    got = [(s.channel, s.frame_final_start, s.frame_final_duration) for s in sound_strips(scene)]
    assert got == [(3, 15, 30), (4, 30, 24), (3, 70, 11)]
    channels = scene.sequence_editor.channels
    assert channels[3].name == "ImaginTalk Dialogue"
    assert channels[4].name == "ImaginTalk Dialogue 2"
    strip = sound_strips(scene)[0]
    assert strip.name == "shot V1-001 take 1"
    assert strip[bridge.placement.CLIP_ID_KEY] == "V1-001"

    blend = tmp_path / "placed.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene = bpy.data.scenes["placing"]
    got = [(s.channel, s.frame_final_start, s.frame_final_duration) for s in sound_strips(scene)]
    assert got == [(3, 15, 30), (4, 30, 24), (3, 70, 11)]
    assert scene.sequence_editor.channels[3].name == "ImaginTalk Dialogue"


def test_length_is_the_placement_not_the_file(bridge, media, tmp_path):
    scene = _scene_with_two_channels(media)
    long_file = write_wav(tmp_path / "long.wav", 90, 24.0)
    short_file = write_wav(tmp_path / "short.wav", 3, 24.0)
    placements = [_placement("V1-001", long_file, 0, 40), _placement("V2-001", short_file, 50, 8)]
    report = bridge.placement.apply_placements(scene, placements)
    assert report["failed"] == []
    got = [(s.frame_final_start, s.frame_final_duration) for s in sound_strips(scene)]
    assert got == [(10, 40), (60, 8)]


def test_bad_placements_are_reported_not_raised(bridge, media, tmp_path):
    scene = _scene_with_two_channels(media)
    good = write_wav(tmp_path / "good.wav", 12, 24.0)
    placements = [
        _placement("V1-001", tmp_path / "missing.wav", 5, 30),
        _placement("V1-002", good, 40, 12, rate=25.0),
        {"clip_id": "V1-003", "audio_path": str(good)},
        _placement("V1-004", good, -3, 12),
        _placement("V2-001", good, 40, 12),
    ]
    report = bridge.placement.apply_placements(scene, placements)

    assert report["placed"] == ["V2-001"]
    reasons = {f["clip_id"]: f["reason"] for f in report["failed"]}
    assert "audio file not found" in reasons["V1-001"]
    assert "25 fps" in reasons["V1-002"]
    assert "24 fps" in reasons["V1-002"]
    assert "lacks" in reasons["V1-003"]
    assert "bad frame range" in reasons["V1-004"]
    assert [s.channel for s in sound_strips(scene)] == [3]


def test_placing_twice_adds_channels_above(bridge, media, tmp_path):
    scene = _scene_with_two_channels(media)
    audio = write_wav(tmp_path / "a.wav", 30, 24.0)
    bridge.placement.apply_placements(scene, [_placement("V1-001", audio, 5, 30)])
    bridge.placement.apply_placements(scene, [_placement("V1-001", audio, 5, 30, take=2)])
    assert [(s.channel, s.name) for s in sound_strips(scene)] == [
        (3, "shot V1-001 take 1"),
        (4, "shot V1-001 take 2"),
    ]
    # channel names are unique in Blender: the second run's channel gets a suffix
    assert scene.sequence_editor.channels[4].name == "ImaginTalk Dialogue.001"
