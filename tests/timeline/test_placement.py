"""Placing generated dialogue on new tracks, frame-exact, with BWF timecode that matches."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange
from timeline_fixtures import clip_ref_for

from imagintalk_plugin.core.clips import ClipRef, PlacedAudio
from imagintalk_plugin.core.errors import AudioFileError
from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.timeline.bwf import read_bwf_time_reference, write_bwf
from imagintalk_plugin.timeline.placement import (
    DIALOGUE_TRACK,
    place_dialogue,
    timecode_samples,
    write_placed_audio,
)

SR = 48000
RATES = {
    "23.976": (24000 / 1001, "01:00:00:00", False),
    "29.97DF": (30000 / 1001, "01:00:00;00", True),
}
# (name, record start frame, duration frames, speaker); a gap between the first two
SHOTS = [("shot_a", 0, 48, None), ("shot_b", 60, 73, "ALICE"), ("shot_c", 133, 67, "ALICE")]


def build_timeline(rate_key: str) -> tuple[otio.schema.Timeline, list[ClipRef]]:
    """A one-video-track timeline at 01:00:00:00 and the ClipRefs of its clips."""
    rate, start_tc, drop = RATES[rate_key]
    start = otio.opentime.from_timecode(start_tc, rate)
    timeline = otio.schema.Timeline(name=f"scene {rate_key}", global_start_time=start)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    cursor = 0
    for name, record, duration, _ in SHOTS:
        if record > cursor:
            track.append(otio.schema.Gap(source_range=_range(0, record - cursor, rate)))
        media = otio.schema.ExternalReference(
            target_url=f"file:///media/{name}.mov", available_range=_range(0, 1000, rate)
        )
        source = _range(200 + record, duration, rate)
        track.append(otio.schema.Clip(name=name, media_reference=media, source_range=source))
        cursor = record + duration
    refs = []
    for index, (clip, (_, _, _, speaker)) in enumerate(
        zip(track.find_clips(), SHOTS, strict=True), start=1
    ):
        refs.append(
            clip_ref_for(
                clip,
                index,
                rate,
                start,
                drop,
                media_path=f"/media/{clip.name}.mov",
                speaker=speaker,
            )
        )
    return timeline, refs


def _range(start: float, duration: float, rate: float) -> TimeRange:
    return TimeRange(RationalTime(start, rate), RationalTime(duration, rate))


def make_placements(refs: list[ClipRef], folder: Path, **kwargs) -> list[PlacedAudio]:
    """One BWF per clip, exactly as long as the clip, spotted at its record timecode."""
    placed = []
    for ref in refs:
        seconds = ref.record_range.duration.to_seconds()
        samples = np.zeros(round(seconds * SR), dtype=np.float32)
        path = folder / f"{ref.clip_id}_take1.wav"
        placed.append(write_placed_audio(ref, Waveform(samples, SR), path, seed=7, **kwargs))
    return placed


def _audio_clips(timeline: otio.schema.Timeline) -> dict[str, otio.schema.Clip]:
    return {
        c.metadata["imagintalk"]["source_clip_id"]: c
        for t in timeline.tracks
        if t.kind == otio.schema.TrackKind.Audio
        for c in t.find_clips()
    }


def test_timecode_samples_are_exact():
    # 01:00:00:00 at 23.976 is 86400 frames of 1001/24000 s: 3603.6 s.
    start = RationalTime(86400, 24000 / 1001)
    assert timecode_samples(RationalTime(0, 24000 / 1001), start, SR) == 172_972_800
    # a frame at 23.976 is exactly 2002 samples at 48 kHz, also when written as 23.976
    assert timecode_samples(RationalTime(10, 23.976), RationalTime(86400, 23.976), SR) == (
        172_972_800 + 20020
    )
    # 01:00:00;00 drop-frame is frame 107892: 107892 * 1001 / 30000 * 48000 = 172799827.2
    start = otio.opentime.from_timecode("01:00:00;00", 30000 / 1001)
    assert start.value == 107892
    assert Fraction(107892 * 1001 * SR, 30000) == Fraction(863999136, 5)
    assert timecode_samples(RationalTime(0, 30000 / 1001), start, SR) == 172_799_827
    assert timecode_samples(RationalTime(1, 30000 / 1001), start, SR) == 172_801_429  # +1601.6
    assert timecode_samples(RationalTime(0, 25), RationalTime(900000, 25), SR) == 1_728_000_000


@pytest.mark.parametrize("rate_key", list(RATES))
def test_dialogue_lands_under_its_picture(tmp_path, rate_key):
    timeline, refs = build_timeline(rate_key)
    placed = make_placements(refs, tmp_path, model="tiny")
    out = place_dialogue(timeline, placed)
    assert [t.name for t in out.tracks] == [
        "V1",
        DIALOGUE_TRACK,
        f"{DIALOGUE_TRACK} - ALICE",
    ]
    audio = _audio_clips(out)
    pictures = {ref.clip_id: ref for ref in refs}
    for clip_id, clip in audio.items():
        ref = pictures[clip_id]
        assert clip.range_in_parent() == ref.record_range
        assert clip.range_in_parent().start_time.rate == ref.record_range.start_time.rate
        media_start = clip.media_reference.available_range.start_time
        assert media_start == ref.timeline_start + ref.record_range.start_time
        assert clip.source_range.start_time == media_start
        path = otio.url_utils.filepath_from_url(clip.media_reference.target_url)
        assert Path(path) == tmp_path / f"{clip_id}_take1.wav"
        reference = read_bwf_time_reference(path)
        assert reference == timecode_samples(ref.record_range.start_time, ref.timeline_start, SR)
        assert dict(clip.metadata["imagintalk"]) == {
            "source_clip_id": clip_id,
            "source_clip_name": ref.name,
            "take": 1,
            "seed": 7,
            "model": "tiny",
            "sample_rate": SR,
        }


def test_input_timeline_is_untouched(tmp_path):
    timeline, refs = build_timeline("29.97DF")
    before = otio.adapters.write_to_string(timeline, "otio_json")
    out = place_dialogue(timeline, make_placements(refs, tmp_path))
    assert otio.adapters.write_to_string(timeline, "otio_json") == before
    assert len(out.tracks) == 3
    assert len(timeline.tracks) == 1
    assert out.metadata["fcp_xml"]["timecode"]["displayformat"] == "DF"
    assert "fcp_xml" not in timeline.metadata


def test_overlaps_go_to_an_extra_track(tmp_path):
    timeline, refs = build_timeline("23.976")
    first = make_placements(refs[:1], tmp_path)[0]
    again = tmp_path / "again.wav"
    rewrite = Waveform(np.zeros(48 * 2002, dtype=np.float32), SR)
    second = write_placed_audio(refs[0], rewrite, again, take=2)
    out = place_dialogue(timeline, [second, first])
    names = [t.name for t in out.tracks]
    assert names == ["V1", DIALOGUE_TRACK, f"{DIALOGUE_TRACK} 2"]
    takes = [[c.metadata["imagintalk"]["take"] for c in t.find_clips()] for t in out.tracks[1:]]
    assert takes == [[1], [2]]
    for track in out.tracks[1:]:
        ranges = [c.range_in_parent() for c in track.find_clips()]
        assert all(a.end_time_exclusive() <= b.start_time for a, b in itertools.pairwise(ranges))


def test_names_already_on_the_timeline_are_skipped(tmp_path):
    timeline, refs = build_timeline("23.976")
    once = place_dialogue(timeline, make_placements(refs[:1], tmp_path))
    (tmp_path / "pass2").mkdir()
    twice = place_dialogue(once, make_placements(refs[:1], tmp_path / "pass2"))
    assert [t.name for t in twice.tracks] == ["V1", DIALOGUE_TRACK, f"{DIALOGUE_TRACK} 2"]


def test_explicit_track_name_wins_over_speaker(tmp_path):
    timeline, refs = build_timeline("23.976")
    placed = make_placements(refs[1:2], tmp_path, track_name="Dub FR")
    out = place_dialogue(timeline, placed)  # keep it: OTIO children die with their parent
    assert [t.name for t in out.tracks] == ["V1", "Dub FR"]


def test_clip_never_runs_past_short_audio(tmp_path):
    timeline, refs = build_timeline("29.97DF")
    ref = refs[0]  # 48 frames
    short = Waveform(np.zeros(round(30.4 * 1601.6), dtype=np.float32), SR)  # 30.4 frames
    placed = write_placed_audio(ref, short, tmp_path / "short.wav")
    out = place_dialogue(timeline, [placed])
    clip = _audio_clips(out)[ref.clip_id]
    assert clip.source_range.duration == RationalTime(31, 30000 / 1001)  # ceil(30.4)
    assert clip.media_reference.available_range.duration.value == pytest.approx(30.4, abs=1e-3)


def test_bad_audio_is_refused(tmp_path):
    timeline, refs = build_timeline("23.976")
    placed = make_placements(refs[:1], tmp_path)[0]
    wrong_rate = PlacedAudio(placed.clip, placed.audio_path, placed.record_range, 44100)
    with pytest.raises(AudioFileError, match="sample rate"):
        place_dialogue(timeline, [wrong_rate])
    moved = PlacedAudio(placed.clip, placed.audio_path, refs[1].record_range, SR)
    with pytest.raises(AudioFileError, match="TimeReference"):
        place_dialogue(timeline, [moved])
    missing = PlacedAudio(placed.clip, tmp_path / "nope.wav", placed.record_range, SR)
    with pytest.raises(AudioFileError, match="not found"):
        place_dialogue(timeline, [missing])


def test_plain_wav_is_placed_without_timecode_check(tmp_path):
    timeline, refs = build_timeline("23.976")
    path = tmp_path / "user.wav"
    write_bwf(path, Waveform(np.zeros(73 * 2002, dtype=np.float32), SR), time_reference=0)
    placed = PlacedAudio(refs[1], path, refs[1].record_range, SR)
    with pytest.raises(AudioFileError):  # a BWF at the wrong timecode is refused...
        place_dialogue(timeline, [placed])
    raw = path.read_bytes()
    bext_size = 8 + 602 + len(b"A=PCM,F=48000,W=24,M=mono,T=ImaginTalk\r\n")
    body = raw[12 + bext_size :]
    path.write_bytes(b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WAVE" + body)
    out = place_dialogue(timeline, [placed])  # ...a plain WAV is not
    assert _audio_clips(out)[refs[1].clip_id].range_in_parent() == refs[1].record_range
