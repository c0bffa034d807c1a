"""Writing placed timelines: round trips through .otio / FCP7 XML / AAF / EDL, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange
from timeline_fixtures import clip_ref_for

from imagintalk_plugin.core.errors import OutputExistsError, TimelineWriteError
from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.timeline.bwf import read_bwf_time_reference
from imagintalk_plugin.timeline.placement import place_dialogue, write_placed_audio
from imagintalk_plugin.timeline.writing import write_timeline

SR = 48000
RATES = {
    "23.976": (24000 / 1001, "01:00:00:00", False),
    "29.97DF": (30000 / 1001, "01:00:00;00", True),
}
# (record start frame, duration frames): a gap before the second clip
SHOTS = [(0, 48), (61, 75)]
# 01:00:00:00 (+ record start) in samples at 48 kHz, computed by hand:
# 23.976: 86400 frames * 1001/24000 s = 3603.6 s; a frame is 2002 samples.
# 29.97 DF: 01:00:00;00 = frame 107892; * 1001/30000 * 48000 = 172799827.2; a frame 1601.6.
EXPECTED_REFERENCE = {
    "23.976": [172_972_800, 172_972_800 + 61 * 2002],
    "29.97DF": [172_799_827, 172_897_525],  # 172799827.2 + 61 * 1601.6 = 172897524.8
}


def placed_timeline(
    rate_key: str, folder: Path
) -> tuple[otio.schema.Timeline, otio.schema.Timeline]:
    """A two-shot timeline at 01:00:00:00 and its copy with dialogue placed."""
    rate, start_tc, drop = RATES[rate_key]
    start = otio.opentime.from_timecode(start_tc, rate)
    timeline = otio.schema.Timeline(name="scene", global_start_time=start)
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(video)
    placements = []
    for index, (record, duration) in enumerate(SHOTS, start=1):
        if record > video.duration().value:
            gap = record - video.duration().value
            video.append(otio.schema.Gap(source_range=_range(0, gap, rate)))
        media = otio.schema.ExternalReference(
            target_url=f"file:///media/shot{index}.mov", available_range=_range(0, 500, rate)
        )
        clip = otio.schema.Clip(f"shot{index}", media, _range(100, duration, rate))
        video.append(clip)
        ref = clip_ref_for(clip, index, rate, start, drop)
        samples = np.zeros(round(ref.record_range.duration.to_seconds() * SR), dtype=np.float32)
        audio = folder / f"shot {index}.wav"  # a space: file URLs must be encoded
        placements.append(write_placed_audio(ref, Waveform(samples, SR), audio, model="tiny"))
    return timeline, place_dialogue(timeline, placements)


def _range(start: float, duration: float, rate: float) -> TimeRange:
    return TimeRange(RationalTime(start, rate), RationalTime(duration, rate))


def _clips(timeline: otio.schema.Timeline, kind: str) -> list[otio.schema.Clip]:
    return [c for t in timeline.tracks if t.kind == kind for c in t.find_clips()]


@pytest.mark.parametrize("suffix", [".otio", ".xml", ".aaf"])
@pytest.mark.parametrize("rate_key", list(RATES))
def test_round_trip_keeps_dialogue_under_picture(tmp_path, rate_key, suffix):
    _, placed = placed_timeline(rate_key, tmp_path)
    out = write_timeline(placed, tmp_path / f"out{suffix}")
    back = otio.adapters.read_from_file(str(out))
    rate = RATES[rate_key][0]
    assert back.global_start_time.rate == pytest.approx(rate, abs=1e-9)
    assert back.global_start_time.value == placed.global_start_time.value
    pictures = _clips(back, otio.schema.TrackKind.Video)
    dialogue = _clips(back, otio.schema.TrackKind.Audio)
    assert len(pictures) == len(dialogue) == 2
    for picture, audio, expected in zip(
        pictures, dialogue, EXPECTED_REFERENCE[rate_key], strict=True
    ):
        p_range, a_range = picture.range_in_parent(), audio.range_in_parent()
        assert a_range.start_time.rate == pytest.approx(rate, abs=1e-9)
        assert a_range.start_time.value == p_range.start_time.value  # the same frame
        assert a_range.duration.value == p_range.duration.value
        # the media's own time starts at its record timecode, like its BWF TimeReference
        record_tc = back.global_start_time + p_range.start_time
        assert audio.media_reference.available_range.start_time.value == record_tc.value
        path = otio.url_utils.filepath_from_url(audio.media_reference.target_url)
        assert read_bwf_time_reference(path) == expected


def test_fcp_xml_carries_drop_frame_and_audio_format(tmp_path):
    _, placed = placed_timeline("29.97DF", tmp_path)
    text = write_timeline(placed, tmp_path / "out.xml").read_text()
    assert "<string>01:00:00;00</string>" in text
    assert "<displayformat>DF</displayformat>" in text
    assert "<samplerate>48000</samplerate>" in text
    assert "<mediatype>audio</mediatype>" in text
    assert (tmp_path / "shot 1.wav").as_uri() in text


def test_otio_is_lossless(tmp_path):
    _, placed = placed_timeline("23.976", tmp_path)
    out = write_timeline(placed, tmp_path / "out.otio")
    back = otio.adapters.read_from_file(str(out))
    assert back.to_json_string() == placed.to_json_string()


@pytest.mark.parametrize("rate_key", list(RATES))
def test_edl_lists_picture_at_the_start_timecode(tmp_path, rate_key):
    _, placed = placed_timeline(rate_key, tmp_path)
    text = write_timeline(placed, tmp_path / "out.edl").read_text()
    drop = RATES[rate_key][2]
    sep = ";" if drop else ":"
    assert ("FCM: DROP FRAME" if drop else "FCM: NON-DROP FRAME") in text
    events = [line.split() for line in text.splitlines() if line[:3].isdigit()]
    assert [e[2] for e in events] == ["V", "V"]
    assert events[0][6] == f"01:00:00{sep}00"  # record in
    rate = RATES[rate_key][0]
    back = otio.adapters.read_from_string(text, "cmx_3600", rate=rate)
    starts = [c.range_in_parent().start_time.value for c in back.find_clips()]
    assert starts == [0, 61]


def test_edl_of_the_dialogue_track_spots_the_bwf_timecode(tmp_path):
    _, placed = placed_timeline("23.976", tmp_path)
    out = write_timeline(placed, tmp_path / "dialogue.edl", edl_track="ImaginTalk Dialogue")
    events = [line.split() for line in out.read_text().splitlines() if line[:3].isdigit()]
    assert [e[1:3] for e in events] == [["shot_1", "A"], ["shot_2", "A"]]
    assert events[1][4:8] == ["01:00:02:13", "01:00:05:16", "01:00:02:13", "01:00:05:16"]


def test_edl_refuses_two_video_tracks(tmp_path):
    _, placed = placed_timeline("23.976", tmp_path)
    placed.tracks.append(otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video))
    with pytest.raises(TimelineWriteError, match="2 video tracks"):
        write_timeline(placed, tmp_path / "out.edl")
    with pytest.raises(TimelineWriteError, match="no single track named 'nope'"):
        write_timeline(placed, tmp_path / "out.edl", edl_track="nope")
    write_timeline(placed, tmp_path / "out.edl", edl_track="V1")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".wav") == ["out.edl"]


def test_otioz_bundles_the_audio(tmp_path):
    _, placed = placed_timeline("23.976", tmp_path)
    out = write_timeline(placed, tmp_path / "out.otioz")
    (tmp_path / "x").mkdir()
    back = otio.adapters.read_from_file(str(out), extract_to_directory=str(tmp_path / "x"))
    urls = [c.media_reference.target_url for c in _clips(back, otio.schema.TrackKind.Audio)]
    assert urls == ["media/shot 1.wav", "media/shot 2.wav"]  # relative to the bundle
    assert all((tmp_path / "x" / u).is_file() for u in urls)
    pictures = _clips(back, otio.schema.TrackKind.Video)  # not on disk: missing, URL kept
    assert pictures[0].media_reference.metadata["original_target_url"] == "file:///media/shot1.mov"


@pytest.mark.parametrize("suffix", [".otio", ".xml", ".edl", ".aaf"])
def test_writing_leaves_the_input_untouched(tmp_path, suffix):
    _, placed = placed_timeline("29.97DF", tmp_path)
    before = placed.to_json_string()
    write_timeline(placed, tmp_path / f"out{suffix}")
    assert placed.to_json_string() == before


def test_existing_output_is_refused_without_force(tmp_path):
    _, placed = placed_timeline("23.976", tmp_path)
    out = tmp_path / "out.otio"
    out.write_text("keep me")
    with pytest.raises(OutputExistsError):
        write_timeline(placed, out)
    assert out.read_text() == "keep me"
    write_timeline(placed, out, force=True)
    assert otio.adapters.read_from_file(str(out)).name == "scene"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix != ".wav")


def test_refused_write_leaves_nothing_behind(tmp_path, monkeypatch):
    _, placed = placed_timeline("23.976", tmp_path)

    def refuse(timeline, path, **kwargs):
        Path(path).write_bytes(b"half an AAF")
        raise ValueError("Clip.media_reference.available_range.duration.rate not equal")

    with monkeypatch.context() as patch:
        patch.setattr(otio.adapters, "write_to_file", refuse)
        with pytest.raises(TimelineWriteError, match="AAF adapter refused"):
            write_timeline(placed, tmp_path / "out.aaf")
    assert _leftovers(tmp_path) == []
    out = tmp_path / "out.xml"
    out.write_text("old")
    with pytest.raises(TimelineWriteError, match="unknown format"):
        write_timeline(placed, tmp_path / "out.mov")
    with pytest.raises(TimelineWriteError, match="does not exist"):
        write_timeline(placed, tmp_path / "missing" / "out.otio")
    assert _leftovers(tmp_path) == ["out.xml"]


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    _, placed = placed_timeline("23.976", tmp_path)
    out = tmp_path / "out.xml"
    out.write_text("old")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("imagintalk_plugin.timeline.writing.os.fsync", full_disk)
    with pytest.raises(TimelineWriteError, match="No space left"):
        write_timeline(placed, out, force=True)
    assert out.read_text() == "old"
    assert _leftovers(tmp_path) == ["out.xml"]
