"""Place generated dialogue back on a timeline, frame-exact under its picture.

`place_dialogue` returns a copy of the timeline with new audio tracks appended: one per speaker
label ("ImaginTalk Dialogue - ALICE"; "ImaginTalk Dialogue" for clips without one), plus
overflow tracks ("ImaginTalk Dialogue 2", ...) so clips on a track never overlap. A name already
used by a track of the timeline is skipped, so placing a second pass never merges with the
first. Each audio clip sits after a gap at exactly its `record_range` on the timeline's rate
(times are snapped to whole frames, which is all an NLE can show).

Media time follows the DAW spotting convention: the audio file's own time starts at its record
timecode (timeline start + record start), matching the BWF `bext` TimeReference that
`write_placed_audio` writes (`timecode_samples`). So the clip's source range starts at its
record timecode and NLEs that read BWF timecode (Resolve, Premiere, Avid) agree with the
timeline. `metadata["imagintalk"]` holds small provenance only; the `fcp_xml` hints on clips
and references (audio sample format, source track, drop-frame display) make FCP7 XML imports
see the files as audio.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.core.clips import DIALOGUE_TRACK, ClipRef, PlacedAudio
from imagintalk_plugin.core.errors import AudioFileError
from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.timeline.bwf import WavInfo, read_wav_info, write_bwf
from imagintalk_plugin.timeline.timecode import seconds

METADATA_KEY = "imagintalk"


class _Slot(NamedTuple):
    start: int  # timeline frames, frame 0 = the timeline's first frame
    end: int
    placed: PlacedAudio
    info: WavInfo


def timecode_samples(
    record_start: RationalTime, timeline_start: RationalTime, sample_rate: int
) -> int:
    """Samples since midnight of a record timecode: the BWF TimeReference that spots audio there.

    (timeline start + record start) in exact seconds × `sample_rate`, rounded half up. At
    23.976 every frame is a whole number of 48 kHz samples (2002); at 29.97 it is 1601.6, so
    frame starts are rounded to the nearest sample.
    """
    samples = (seconds(timeline_start) + seconds(record_start)) * sample_rate
    return math.floor(samples + Fraction(1, 2))


def safe_name(text: str) -> str:
    """A clip name made safe for a media file name (what placed files are called after)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60] or "clip"


def place_dialogue(
    timeline: otio.schema.Timeline, placements: Sequence[PlacedAudio]
) -> otio.schema.Timeline:
    """Return a copy of `timeline` with the placed audio on new dialogue tracks.

    The input timeline is not modified. Each audio file's header is read for its length;
    a missing or unreadable file, a sample rate differing from `PlacedAudio.sample_rate` or
    a BWF TimeReference more than half a frame away from the record timecode raises
    `AudioFileError`.
    """
    out = copy.deepcopy(timeline)
    groups: dict[str, list[tuple[PlacedAudio, WavInfo]]] = {}
    for placed in placements:
        groups.setdefault(placed.dialogue_track, []).append((placed, _checked_info(placed)))
    used = {track.name for track in out.tracks}
    for base, group in groups.items():
        for lane in _lanes(group):
            name = _free_name(base, used)
            used.add(name)
            out.tracks.append(_build_track(name, lane))
    if placements:
        _settle_timecode(out, placements[0].clip)
    return out


def write_placed_audio(
    clip: ClipRef,
    waveform: Waveform,
    path: str | Path,
    *,
    record_range: TimeRange | None = None,
    track_name: str = DIALOGUE_TRACK,
    take: int = 1,
    seed: int | None = None,
    model: str | None = None,
    bit_depth: int = 24,
    force: bool = False,
    note: str = "",
) -> PlacedAudio:
    """Write `waveform` as a BWF spotted at the clip's record timecode; return its placement.

    `record_range` defaults to the clip's own; `note` ends the BWF description (a cast take's
    character and cast). This is the "Waveform + ClipRef → PlacedAudio"
    step: the file's TimeReference and the timeline clip that `place_dialogue` makes agree.
    """
    record_range = record_range or clip.record_range
    reference = timecode_samples(record_range.start_time, clip.timeline_start, waveform.sample_rate)
    details = [f"take {take}"] + ([f"seed {seed}"] if seed is not None else [])
    details += [f"model {model}"] if model else []
    details += [note] if note else []
    write_bwf(
        path,
        waveform,
        time_reference=reference,
        bit_depth=bit_depth,
        description=f"ImaginTalk dialogue for {clip.name} ({clip.clip_id}), {', '.join(details)}",
        originator_reference=f"{clip.clip_id} take {take}",
        force=force,
    )
    return PlacedAudio(
        clip=clip,
        audio_path=Path(path).resolve(),
        record_range=record_range,
        sample_rate=waveform.sample_rate,
        track_name=track_name,
        take=take,
        seed=seed,
        model=model,
    )


def _frames(time: RationalTime, rate: float) -> int:
    return round(time.value_rescaled_to(rate))


def _checked_info(placed: PlacedAudio) -> WavInfo:
    info = read_wav_info(placed.audio_path)
    if info.sample_rate != placed.sample_rate:
        raise AudioFileError(
            placed.audio_path,
            f"sample rate is {info.sample_rate} Hz, the placement says {placed.sample_rate} Hz",
        )
    if info.time_reference is not None:
        expected = timecode_samples(
            placed.record_range.start_time, placed.clip.timeline_start, info.sample_rate
        )
        half_frame = info.sample_rate / (2 * placed.record_range.start_time.rate)
        if abs(info.time_reference - expected) > half_frame:
            raise AudioFileError(
                placed.audio_path,
                f"BWF TimeReference {info.time_reference} is not the record timecode of "
                f"{placed.clip.clip_id} ({expected} samples); re-wrap it with rewrite_as_bwf",
            )
    return info


def _lanes(group: list[tuple[PlacedAudio, WavInfo]]) -> list[list[_Slot]]:
    """Spread placements over the fewest tracks with no overlap (by start, first fit)."""
    slots = []
    for placed, info in group:
        rate = placed.record_range.start_time.rate
        start = _frames(placed.record_range.start_time, rate)
        end = start + max(1, _frames(placed.record_range.duration, rate))
        slots.append(_Slot(start, end, placed, info))
    lanes: list[list[_Slot]] = []
    for slot in sorted(slots, key=lambda s: (s.start, s.placed.take)):
        free = next((lane for lane in lanes if lane[-1].end <= slot.start), None)
        if free is None:
            lanes.append([slot])
        else:
            free.append(slot)
    return lanes


def _free_name(base: str, used: set[str]) -> str:
    if base not in used:
        return base
    n = 2
    while f"{base} {n}" in used:
        n += 1
    return f"{base} {n}"


def _build_track(name: str, lane: list[_Slot]) -> otio.schema.Track:
    track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)
    track.metadata[METADATA_KEY] = {"speaker": lane[0].placed.clip.speaker}
    cursor = 0
    for start, end, placed, info in lane:
        rate = placed.record_range.start_time.rate
        if start > cursor:
            gap = TimeRange(RationalTime(0, rate), RationalTime(start - cursor, rate))
            track.append(otio.schema.Gap(source_range=gap))
        clip = _build_clip(placed, info, start, end - start)
        track.append(clip)
        cursor = start + round(clip.source_range.duration.value)  # may be cut to the audio
    return track


def _build_clip(placed: PlacedAudio, info: WavInfo, start: int, duration: int) -> otio.schema.Clip:
    rate = placed.record_range.start_time.rate
    clip = placed.clip
    media_start = RationalTime(_frames(clip.timeline_start, rate) + start, rate)
    audio_frames = RationalTime(info.num_frames, info.sample_rate).value_rescaled_to(rate)
    # A clip never runs past its audio by a whole frame; sub-frame tails (29.97) are kept.
    duration = max(1, min(duration, math.ceil(audio_frames - 1e-6)))
    path = Path(placed.audio_path).resolve()
    reference = otio.schema.ExternalReference(
        target_url=path.as_uri(),
        available_range=TimeRange(media_start, RationalTime(audio_frames, rate)),
    )
    reference.name = path.name
    display = "DF" if clip.drop_frame else "NDF"
    reference.metadata["fcp_xml"] = {
        "timecode": {"displayformat": display},
        "media": {
            "audio": {
                "samplecharacteristics": {"depth": info.bit_depth, "samplerate": info.sample_rate},
                "channelcount": info.channels,
            }
        },
    }
    result = otio.schema.Clip(
        name=path.stem,
        media_reference=reference,
        source_range=TimeRange(media_start, RationalTime(duration, rate)),
    )
    result.metadata[METADATA_KEY] = {
        "source_clip_id": clip.clip_id,
        "source_clip_name": clip.name,
        "take": placed.take,
        "seed": placed.seed,
        "model": placed.model,
        "sample_rate": info.sample_rate,
    }
    result.metadata["fcp_xml"] = {"sourcetrack": {"mediatype": "audio", "trackindex": 1}}
    return result


def _settle_timecode(timeline: otio.schema.Timeline, clip: ClipRef) -> None:
    """Write down the start timecode and drop-frame mode the clips were read with.

    Formats that keep no start (EDL) or no drop-frame flag (OTIO JSON) would otherwise come
    back at 00:00:00:00 or with the other timecode display. `metadata["imagintalk"]` is read
    back by our reader; the `fcp_xml` entry asks the FCP7 XML writer for the display.
    """
    if timeline.global_start_time is None:
        timeline.global_start_time = clip.timeline_start
    ours = timeline.metadata.get(METADATA_KEY)
    if ours is None:
        timeline.metadata[METADATA_KEY] = {"drop_frame": clip.drop_frame}
    else:
        ours["drop_frame"] = clip.drop_frame
    display = "DF" if clip.drop_frame else "NDF"
    fcp = timeline.metadata.get("fcp_xml")
    if fcp is None:
        timeline.metadata["fcp_xml"] = {"timecode": {"displayformat": display}}
    elif "timecode" not in fcp:
        fcp["timecode"] = {"displayformat": display}
