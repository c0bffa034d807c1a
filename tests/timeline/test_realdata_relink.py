"""Relinking real editors' EDLs and AAFs, whose reels and paths name another machine's files,
to real videos renamed (symlinked) into a temporary media folder."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.place_files import place_audio_files
from imagintalk_plugin.timeline.reading import read_timeline
from imagintalk_plugin.timeline.relink import relink_timeline
from imagintalk_plugin.timeline.writing import write_timeline

pytestmark = pytest.mark.realdata


def _media(realdata: Path, root: Path, names: dict[str, str]) -> Path:
    """`root` holding symlinks named as the timeline expects to real LivePortrait videos."""
    for name, video in names.items():
        target = realdata / "video" / "LivePortrait" / video
        if not target.is_file():
            pytest.skip(f"real video {target} not found")
        link = root / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    return root


def _online(loaded) -> int:
    return sum(not clip.offline for clip in list_clips(loaded))


def test_edl_reels_and_source_files_from_another_machine(realdata, timelines_dir, tmp_path):
    """file32.edl (29.97 DF, Avid): reels and `SOURCE FILE` names, no paths at all."""
    loaded = read_timeline(timelines_dir / "lossless-cut" / "edl" / "file32.edl")
    assert _online(loaded) == 0
    media = _media(
        realdata,
        tmp_path / "media",
        {
            "Day 2/ACC112 WARBIRDS.mp4": "d6.mp4",  # the SOURCE FILE name
            "img_6348.MOV": "d9.mp4",  # the reel, another case
            "DTB RE EDIT - HD 720P VIDEO SHARING.mov": "d10.mp4",  # its source file ...
            "AQ100.mov": "d11.mp4",  # ... and its reel name two files: not guessed
        },
    )
    new, report = relink_timeline(loaded, [media])
    assert report.found == (
        ("ACC112 WARBIRDS.NEW.01", "reel", str(media / "Day 2" / "ACC112 WARBIRDS.mp4")),
        ("IMG_6348.NEW.01", "reel", str(media / "img_6348.MOV")),
        ("ACC112 WARBIRDS.NEW.01", "reel", str(media / "Day 2" / "ACC112 WARBIRDS.mp4")),
    )
    assert len(report.missing) == 6
    assert "DTB RE EDIT - HD 720P VIDEO SHARING.NEW.01 (ambiguous: 2 files" in report.summary()
    assert _online(new) == 3
    before = [(c.clip_id, c.record_range, c.source_range) for c in list_clips(loaded)]
    assert [(c.clip_id, c.record_range, c.source_range) for c in list_clips(new)] == before


def test_edl_reel_table_file_names_are_found_anywhere_below(realdata, timelines_dir, tmp_path):
    """Final Cut's `>>> SOURCE` table names files of its own machine (59.94, 251 events)."""
    loaded = read_timeline(timelines_dir / "lossless-cut" / "cmx3600.edl")
    media = _media(
        realdata,
        tmp_path / "media",
        {
            "footage/drone/tourismcares_video_mavic3pro_6.mov": "d12.mp4",
            "footage/TOURISMCARES_VIDEO_A7S3_DONOVAN_1.MP4": "d13.mp4",
        },
    )
    new, report = relink_timeline(loaded, [media])
    assert sorted((name, how) for name, how, _ in report.found) == [
        ("137", "file name"),
        ("250", "file name"),
        ("251", "file name"),
    ]
    assert report.summary().startswith(f"relinked 3 of 251 offline clip(s) from {media} (248")
    assert _online(new) == 3


def test_aaf_paths_of_another_machine_relink_and_write_back_online(
    realdata, timelines_dir, tmp_path
):
    loaded = read_timeline(timelines_dir / "otio-aaf-adapter" / "simple.aaf")
    media = _media(
        realdata,
        tmp_path / "media",
        {"DemoClips/tech.fux (loop)-HD.mp4": "d14.mp4", "t-hawk (loop)-HD.mp4": "d18.mp4"},
    )
    new, report = relink_timeline(loaded, [media])
    assert [(name, how) for name, how, _ in report.found] == [
        ("tech.fux (loop)-HD.mp4", "file name"),
        ("t-hawk (loop)-HD.mp4", "file name"),
    ]
    for suffix in (".xml", ".otio"):
        out = tmp_path / "delivery" / f"simple{suffix}"
        out.parent.mkdir(exist_ok=True)
        write_timeline(new.timeline, out)
        back = list_clips(read_timeline(out))
        assert [c.media_path for c in back if not c.offline] == [path for *_, path in report.found]


def test_placing_on_a_relinked_real_edl_writes_its_media_online(realdata, timelines_dir, tmp_path):
    source = timelines_dir / "lossless-cut" / "edl" / "file32.edl"
    media = _media(realdata, tmp_path / "media", {"ACC112.mov": "d6.mp4", "IMG_6348.mp4": "d9.mp4"})
    wav = tmp_path / "line.wav"
    with wave.open(str(wav), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(48000)
        handle.writeframes(np.zeros(24000, "<i2").tobytes())
    out = tmp_path / "delivery" / "file32_dubbed.xml"
    out.parent.mkdir()
    summary = place_audio_files(source, {"V1-002": wav}, out, media_dirs=[media])
    assert summary.startswith("relinked 3 of 9 offline clip(s)")
    back = list_clips(read_timeline(out))
    assert sorted(Path(c.media_path).name for c in back if not c.offline) == [
        "ACC112.mov",
        "ACC112.mov",
        "IMG_6348.mp4",
    ]
