"""Placing dialogue on real editors' timelines and reading the result back."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.place_files import place_audio_files
from imagintalk_plugin.timeline.reading import read_timeline
from imagintalk_plugin.timeline.report import inspect_report
from imagintalk_plugin.timeline.timecode import to_frames

CASES = [
    "lossless-cut/edl/070816_EG101_HEISTS_ROUGH_CUT_SOURCES_PART 1.edl",  # 29.97 NDF, M2, BL
    "lossless-cut/edl/cmx3600.edl",  # 29.97 DF
    "lossless-cut/FCPXML_1_9.fcpxml",
    "lossless-cut/Final Cut Pro XMEML 2.xml",  # 60 fps from 01:00:00:00
    "otio-fcp-adapter/empty_name_tags.xml",  # 23.976
    "otio-aaf-adapter/2997fps-DFTC.aaf",  # 29.97 DF from 05:00:00;00
    "OpenTimelineIO/premiere_example.otio",
]


def _wav(path, seconds=0.5, rate=48000):
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.zeros(int(seconds * rate), "<i2").tobytes())
    return path


@pytest.mark.realdata
@pytest.mark.parametrize("suffix", [".otio", ".xml"])
@pytest.mark.parametrize("name", CASES)
def test_placed_dialogue_reads_back_under_its_picture(timelines_dir, tmp_path, name, suffix):
    source = timelines_dir / name
    before = inspect_report(loaded := read_timeline(source), list_clips(loaded))
    target = before["clips"][-1]
    out = tmp_path / f"dubbed{suffix}"
    place_audio_files(source, {target["id"]: _wav(tmp_path / "line.wav")}, out)
    back = read_timeline(out)
    after = inspect_report(back, list_clips(back))
    assert after["start_timecode"] == before["start_timecode"]
    assert after["rate"] == pytest.approx(before["rate"])
    dialogue = [t for t in back.timeline.audio_tracks() if "ImaginTalk Dialogue" in (t.name or "")]
    if suffix == ".xml":  # FCP7 XML keeps no track names: find our file instead
        dialogue = [
            t
            for t in back.timeline.audio_tracks()
            if any("dubbed_dialogue" in str(c.media_reference.target_url) for c in t.find_clips())
        ]
    (track,) = dialogue
    (clip,) = list(track.find_clips())
    assert to_frames(clip.range_in_parent().start_time, back.rate) == target["record_start_frame"]
