"""Written timelines keep their pictures online: relative media links are read against the
timeline's folder and written absolute, in every output format, from any folder."""

from __future__ import annotations

import tempfile
import wave
import zipfile
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.paths import demo_timeline
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.media_paths import file_name, rebased_url
from imagintalk_plugin.timeline.place_files import place_audio_files
from imagintalk_plugin.timeline.reading import read_timeline
from imagintalk_plugin.timeline.timecode import to_frames
from imagintalk_plugin.timeline.writing import write_timeline

RATE = 25.0
SUFFIXES = [".otio", ".otioz", ".xml", ".edl", ".aaf"]


@pytest.fixture(autouse=True)
def _private_temp(tmp_path, monkeypatch):
    """.otioz media is unpacked under the temp folder: keep it inside this test's folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()


def _range(start: int, duration: int) -> TimeRange:
    return TimeRange(RationalTime(start, RATE), RationalTime(duration, RATE))


def _project(tmp_path: Path) -> Path:
    """project/cut.otio at 01:00:00:00 linking media/ by relative paths (one file missing)."""
    project = tmp_path / "project"
    (project / "media").mkdir(parents=True)
    for name in ("shot 1.mov", "shot2.mov"):
        (project / "media" / name).write_bytes(b"picture")
    timeline = otio.schema.Timeline(name="cut", global_start_time=RationalTime(90000, RATE))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    shots = [("shot 1", "media/shot 1.mov", 100, 48), ("shot2", "media/shot2.mov", 10, 30)]
    shots.append(("gone", "media/gone.mov", 0, 20))
    for name, url, start, duration in shots:
        reference = otio.schema.ExternalReference(target_url=url, available_range=_range(0, 500))
        track.append(otio.schema.Clip(name, reference, _range(start, duration)))
        track.append(otio.schema.Gap(source_range=_range(0, 12)))
    timeline.tracks.append(track)
    path = project / "cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    assert '"media/shot 1.mov"' in path.read_text()  # really relative on disk
    return path


def _wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(48000)
        handle.writeframes(np.zeros(48000, "<i2").tobytes())
    return path


def _picture(loaded) -> dict[str, tuple[int, int, bool]]:
    """clip id -> (record start frame, frames, online) of the picture clips."""
    return {
        c.clip_id: (to_frames(c.record_range.start_time, loaded.rate), c.duration_frames, c.offline)
        for c in list_clips(loaded)
    }


def test_relative_links_are_read_against_the_timeline_folder(tmp_path, monkeypatch):
    source = _project(tmp_path)
    monkeypatch.chdir(tmp_path / "project" / "media")  # a working folder that is neither
    loaded = read_timeline(Path("..") / "cut.otio")
    urls = [c.media_reference.target_url for c in loaded.timeline.find_clips()]
    assert urls[0] == (source.parent / "media" / "shot 1.mov").as_uri()  # absolute, encoded
    clips = list_clips(loaded)
    assert [c.offline for c in clips] == [False, False, True]
    assert clips[0].media_path == str(source.parent / "media" / "shot 1.mov")


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_placed_timeline_written_elsewhere_keeps_pictures_online(tmp_path, suffix):
    source = _project(tmp_path)
    before = _picture(read_timeline(source))
    assert [online for *_, online in before.values()] == [False, False, True]
    elsewhere = tmp_path / "deliveries" / "today"
    elsewhere.mkdir(parents=True)
    out = elsewhere / f"cut_dubbed{suffix}"
    place_audio_files(source, {"V1-002": _wav(tmp_path / "line.wav")}, out)
    back = read_timeline(out, rate=RATE if suffix == ".edl" else None)
    assert _picture(back) == before  # same ids, same frames, the same clips online
    for clip in list_clips(back):
        if not clip.offline:
            assert Path(clip.media_path).read_bytes() == b"picture"


def test_the_demo_dubbed_into_another_folder_lists_its_media_online(tmp_path, capsys):
    out = tmp_path / "elsewhere" / "demo_dubbed.otio"
    out.parent.mkdir()
    write_timeline(read_timeline(demo_timeline()).timeline, out)
    assert main(["timeline", "inspect", str(out)]) == 0
    assert "5 dubbable clip(s), 5 with media online" in capsys.readouterr().out


def test_otioz_still_bundles_media_relative_and_reads_back_online(tmp_path):
    source = _project(tmp_path)
    out = tmp_path / "elsewhere" / "cut.otioz"
    out.parent.mkdir()
    write_timeline(read_timeline(source).timeline, out)
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        content = bundle.read("content.otio").decode()
    assert {"media/shot 1.mov", "media/shot2.mov"} <= names
    assert "media/shot 1.mov" in content
    assert str(source.parent) not in content.split("gone")[0]
    back = read_timeline(out)
    unpacked = [Path(c.media_path) for c in list_clips(back) if not c.offline]
    assert len(unpacked) == 2
    assert all(p.read_bytes() == b"picture" and tmp_path / "tmp" in p.parents for p in unpacked)
    stamp = unpacked[0].stat().st_mtime_ns
    read_timeline(out)  # an unchanged bundle is not unpacked again
    assert unpacked[0].stat().st_mtime_ns == stamp
    assert any("unpacked" in note for note in back.notes)


def test_otioz_member_names_cannot_escape_the_cache(tmp_path):
    timeline = otio.schema.Timeline(name="evil")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    reference = otio.schema.ExternalReference(target_url="media/../../escaped.mov")
    track.append(otio.schema.Clip("x", reference, _range(0, 10)))
    timeline.tracks.append(track)
    bundle = tmp_path / "evil.otioz"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("content.otio", otio.adapters.write_to_string(timeline, "otio_json"))
        archive.writestr("media/../../escaped.mov", b"picture")
    read_timeline(bundle)
    assert not list(tmp_path.rglob("escaped.mov"))


def test_otiod_links_are_relative_to_the_bundle_folder(tmp_path):
    source = _project(tmp_path)
    loaded = read_timeline(source)
    loaded.timeline.tracks[0].remove(loaded.timeline.tracks[0][4])  # the missing one
    bundle = tmp_path / "elsewhere.otiod"
    otio.adapters.write_to_file(loaded.timeline, str(bundle), adapter_name="otiod")
    assert "media/shot2.mov" in (bundle / "content.otio").read_text()
    back = read_timeline(bundle)
    assert [Path(c.media_path).parent for c in list_clips(back)] == [bundle / "media"] * 2
    assert not any(c.offline for c in list_clips(back))


def test_image_sequences_are_rebased_too(tmp_path):
    frames = tmp_path / "project" / "frames"
    frames.mkdir(parents=True)
    (frames / "shot.1001.exr").write_bytes(b"image")
    reference = otio.schema.ImageSequenceReference(
        target_url_base="frames/",
        name_prefix="shot.",
        name_suffix=".exr",
        start_frame=1001,
        frame_zero_padding=4,
        rate=RATE,
        available_range=_range(0, 10),
    )
    timeline = otio.schema.Timeline(name="seq")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.append(otio.schema.Clip("seq", reference, _range(0, 10)))
    timeline.tracks.append(track)
    source = tmp_path / "project" / "seq.otio"
    otio.adapters.write_to_file(timeline, str(source))
    out = tmp_path / "out.otio"
    write_timeline(read_timeline(source).timeline, out)
    (clip,) = list_clips(read_timeline(out))
    assert not clip.offline
    assert clip.media_path == str(frames / "shot.%04d.exr")


def test_an_edl_reel_table_link_is_kept_by_the_writers(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "INTERVIEW_CAM_A.MOV").write_bytes(b"picture")
    edl = project / "cut.edl"
    edl.write_text(
        "TITLE: FCP\nFCM: NON-DROP FRAME\n"
        "001  003      V     C        10:00:00:00 10:00:01:00 01:00:00:00 01:00:01:00\n"
        ">>> SOURCE INTERVIEW_CAM_A.MOV  -> 003\n"
    )
    loaded = read_timeline(edl, rate=RATE)
    assert loaded.reel_sources == {"003": str(project / "INTERVIEW_CAM_A.MOV")}
    for suffix in (".xml", ".otio", ".edl"):
        out = tmp_path / f"out{suffix}"
        write_timeline(loaded.timeline, out)
        (clip,) = list_clips(read_timeline(out, rate=RATE if suffix == ".edl" else None))
        assert not clip.offline
        assert clip.media_path == str(project / "INTERVIEW_CAM_A.MOV")
    assert f"* FROM CLIP: {project / 'INTERVIEW_CAM_A.MOV'}" in (tmp_path / "out.edl").read_text()


@pytest.mark.parametrize(
    "url",
    [
        "/Volumes/Shoot/a.mov",
        "file:///Volumes/Shoot/a.mov",
        "file://localhost/D%3a/media/a.mov",
        "file://VSD/Avid%20MediaFiles/a.mxf",
        "C:\\Shoot\\a.mov",
        "D:/media/a.mov",
        "\\\\server\\share\\a.mov",
        "https://example.com/a.mov",
        "",
    ],
)
def test_absolute_and_remote_links_are_left_as_written(url, tmp_path):
    assert rebased_url(url, tmp_path) == url


@pytest.mark.parametrize(
    ("url", "relative"),
    [("media/a b.mov", "media/a b.mov"), ("media\\a.mov", "media/a.mov"), ("file:a.mov", "a.mov")],
)
def test_relative_links_become_absolute_file_urls(url, relative, tmp_path):
    assert rebased_url(url, tmp_path / "x" / "..") == (tmp_path / relative).as_uri()


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("S:\\path\\to\\ZZ100_501.take_1.0001.exr", "ZZ100_501.take_1.0001.exr"),
        ("file:///Macintosh%20HD/Users/a/b%20c.mov", "b c.mov"),
        ("media/shot.mov", "shot.mov"),
        ("", ""),
    ],
)
def test_file_name_of_posix_windows_and_url_links(url, name):
    assert file_name(url) == name
