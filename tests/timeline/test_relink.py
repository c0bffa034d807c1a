"""Relinking offline clips to media in folders: by file name, reel, source timecode; never a
guess; the input untouched; the result written and read back online."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.paths import demo_timeline
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.media_probe import probe_timing
from imagintalk_plugin.timeline.reading import read_timeline
from imagintalk_plugin.timeline.relink import RelinkReport, relink_timeline
from imagintalk_plugin.timeline.writing import write_timeline

EDL = """TITLE: RELINK
FCM: NON-DROP FRAME
001  A001     V     C        01:00:00:00 01:00:01:00 10:00:00:00 10:00:01:00
* FROM CLIP NAME:  by name
* FROM CLIP: C:\\Shoot\\Day 1\\A001C003.MOV
002  B002     V     C        01:00:00:00 01:00:01:00 10:00:01:00 10:00:02:00
* FROM CLIP NAME:  by reel
003  CAM_X    V     C        01:00:10:00 01:00:11:00 10:00:02:00 10:00:03:00
* FROM CLIP NAME:  by timecode
004  ZZ100_50 V     C        01:00:00:00 01:00:01:00 10:00:03:00 10:00:04:00
* FROM CLIP NAME:  cut reel
005  ZZ100_50 V     C        01:00:00:00 01:00:01:00 10:00:04:00 10:00:05:00
* FROM CLIP NAME:  other take
* SOURCE FILE: ZZ100_503A.LAY1.01
006  NOWHERE  V     C        05:00:00:00 05:00:01:00 10:00:05:00 10:00:06:00
* FROM CLIP NAME:  lost
"""


def tc_video(path: Path, timecode: str | None, seconds: float = 4.0, fps: int = 25) -> Path:
    """A small H.264 video whose container carries a start timecode (mov/mp4 `tmcd`)."""
    with av.open(str(path), "w") as container:
        if timecode:
            container.metadata["timecode"] = timecode
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for index in range(round(seconds * fps)):
            image = np.full((32, 32, 3), index % 255, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def cut(tmp_path) -> Path:
    path = tmp_path / "cut" / "relink.edl"
    path.parent.mkdir()
    path.write_text(EDL)
    return path


@pytest.fixture
def media(tmp_path) -> Path:
    """Media as it arrives on another machine: other folders, other case, other names."""
    root = tmp_path / "media"
    (root / "day1" / "A").mkdir(parents=True)
    (root / ".trash").mkdir()
    (root / "day1" / "A" / "a001c003.mov").write_bytes(b"a")
    (root / ".trash" / "A001C003.MOV").write_bytes(b"hidden: never a candidate")
    (root / "B002.mp4").write_bytes(b"b")
    (root / "B002.wav").write_bytes(b"sound, not picture")
    (root / "ZZ100_501.LAY3.01.mov").write_bytes(b"z")
    tc_video(root / "roll_17.mov", "01:00:09:00")  # holds 01:00:10:00-01:00:11:00
    tc_video(root / "roll_18.mov", "02:00:00:00")  # the decoy: another hour
    return root


def _by_name(loaded) -> dict[str, object]:
    return {clip.name: clip for clip in list_clips(loaded)}


def test_offline_clips_are_found_by_name_reel_and_timecode(cut, media):
    loaded = read_timeline(cut, rate=25)
    before = loaded.timeline.to_json_string()
    new, report = relink_timeline(loaded, [media])
    assert loaded.timeline.to_json_string() == before  # the input is not modified
    assert report.found == (
        ("by name", "file name", str(media / "day1" / "A" / "a001c003.mov")),
        ("by reel", "reel", str(media / "B002.mp4")),
        ("by timecode", "source timecode", str(media / "roll_17.mov")),
        ("cut reel", "reel", str(media / "ZZ100_501.LAY3.01.mov")),
    )
    # a clip naming its source file is never given another file that merely shares the reel
    assert report.missing == ("other take", "lost")
    clips = _by_name(new)
    assert not clips["by timecode"].offline
    assert clips["by timecode"].media_path == str(media / "roll_17.mov")
    assert clips["lost"].offline
    old = [(c.clip_id, c.record_range, c.source_range) for c in list_clips(loaded)]
    assert [(c.clip_id, c.record_range, c.source_range) for c in list_clips(new)] == old
    assert report.summary() == (
        f"relinked 4 of 6 offline clip(s) from {media} (2 still offline: other take, lost)"
    )


def test_relinked_timeline_written_elsewhere_reads_back_online(cut, media, tmp_path):
    new, report = relink_timeline(read_timeline(cut, rate=25), [media])
    found = {name for name, _, _ in report.found}
    for suffix in (".otio", ".xml", ".edl"):
        out = tmp_path / "delivery" / f"relinked{suffix}"
        out.parent.mkdir(exist_ok=True)
        write_timeline(new.timeline, out)
        back = read_timeline(out, rate=25 if suffix == ".edl" else None)
        online = {c.clip_id for c in list_clips(back) if not c.offline}
        assert online == {c.clip_id for c in list_clips(new) if c.name in found}, suffix


def test_equally_good_candidates_are_not_guessed(cut, media):
    (media / "day2").mkdir()
    (media / "day2" / "A001C003.mov").write_bytes(b"a second A001C003")
    _, report = relink_timeline(read_timeline(cut, rate=25), [media])
    assert "by name" in report.missing
    assert "by name (ambiguous: 2 files match by file name" in report.summary()


def test_timecode_tells_apart_files_of_the_same_name(cut, tmp_path):
    media = tmp_path / "cards"
    for card, timecode in (("card1", "01:00:09:00"), ("card2", "03:00:00:00")):
        (media / card).mkdir(parents=True)
        tc_video(media / card / "CAM_X.mov", timecode)
    _, report = relink_timeline(read_timeline(cut, rate=25), [media])
    assert ("by timecode", "source timecode", str(media / "card1" / "CAM_X.mov")) in report.found


def test_a_source_range_outside_every_file_is_not_matched(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    tc_video(media / "short.mov", "01:00:09:00", seconds=1.52)  # 38 frames: to 01:00:10:13
    timing = probe_timing(media / "short.mov")
    assert timing is not None
    assert timing.timecode == "01:00:09:00"
    assert timing.duration_s == pytest.approx(38 / 25)
    edl = tmp_path / "one.edl"
    edl.write_text(EDL.split("004")[0])
    _, report = relink_timeline(read_timeline(edl, rate=25), [media])
    assert "by timecode" in report.missing


def test_online_clips_are_left_alone(tmp_path, media):
    loaded = read_timeline(demo_timeline())
    new, report = relink_timeline(loaded, [media])
    assert report == RelinkReport(found=(), missing=(), media_dirs=(str(media),))
    assert report.summary() == f"no offline clips to relink from {media}"
    assert new.timeline.to_json_string() == loaded.timeline.to_json_string()


def test_a_missing_media_folder_is_a_usage_error(cut, tmp_path, capsys):
    loaded = read_timeline(cut, rate=25)
    with pytest.raises(UsageError, match=r"media folder '.*nope' does not exist"):
        relink_timeline(loaded, [tmp_path / "nope"])
    with pytest.raises(UsageError, match="is not a folder"):
        relink_timeline(loaded, [cut])
    assert main(["timeline", "inspect", str(cut), "--media-dir", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "does not exist" in err


def test_inspect_and_place_relink_with_media_dir(cut, media, tmp_path, capsys):
    assert main(["timeline", "inspect", str(cut), "--rate", "25", "--media-dir", str(media)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("relinked 4 of 6 offline clip(s) from")
    assert lines[-1] == "6 dubbable clip(s), 4 with media online"
    assert (
        main(["timeline", "inspect", str(cut), "--rate", "25", "--media-dir", str(media), "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["relink"]["missing"] == ["other take", "lost"]
    assert report["relink"]["found"][2] == {
        "name": "by timecode",
        "how": "source timecode",
        "path": str(media / "roll_17.mov"),
    }
    assert sum(not clip["offline"] for clip in report["clips"]) == 4
    wav = tmp_path / "line.wav"
    with av.open(str(wav), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 48000), np.int16), "s16", "mono")
        frame.sample_rate = 48000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    out = tmp_path / "placed" / "cut_dubbed.xml"
    out.parent.mkdir()
    args = ["timeline", "place", str(cut), "--rate", "25", "--audio", f"V1-003={wav}"]
    assert main([*args, "-o", str(out), "--media-dir", str(media)]) == 0
    assert capsys.readouterr().out.startswith("relinked 4 of 6")
    back = list_clips(read_timeline(out))
    assert sum(not c.offline for c in back) == 4
