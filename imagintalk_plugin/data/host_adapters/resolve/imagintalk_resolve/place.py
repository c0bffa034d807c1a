"""Put the panel's placements on the current timeline, then check where Resolve put them.

A placement (hostlink protocol) is {clip_id, clip_name, audio_path, rate, record_start,
duration, track_name, take}, `record_start`/`duration` in whole frames at `rate` counted from the
timeline's first frame. Per the Resolve scripting README (MediaPool, Folder, Timeline):

1. the audio files are imported once into a bin named "ImaginTalk" under the media pool's root
   (`GetRootFolder`, `GetSubFolderList`, `AddSubFolder`, `SetCurrentFolder`, `ImportMedia`; a
   file already in the bin is reused, matched by its "File Path" clip property);
2. each `track_name` gets new audio tracks (`AddTrack("audio", "mono"|"stereo")` as the file's
   channels say, `SetTrackName`), never an existing track; a name an audio track already has
   gets " 2", " 3" (as `timeline.placement` does for OTIO files), and clips that would overlap
   go to an extra track, since Resolve silently drops an append onto occupied frames;
3. each clip is appended alone with `AppendToTimeline([{"mediaPoolItem", "startFrame": 0,
   "endFrame": duration, "mediaType": 2 (audio only), "trackIndex", "recordFrame"}])`:
   `endFrame` is exclusive and `recordFrame` is absolute (`GetStartFrame()` + record_start,
   e.g. 86400 + 10), as users report; start/end count in the audio clip's own rate ("FPS"
   clip property), which is converted to when it differs from the timeline's;
4. every track is read back (`GetItemListInTrack("audio", i)`, `GetStart`/`GetEnd`,
   `GetMediaPoolItem().GetMediaId()`): a clip counts as placed only if it sits exactly where
   asked. Appends that Resolve refuses (fractional frames), drops (overlaps) or moves are
   reported with the reason.

The result is the protocol's `placed` report: {placed: [clip_id], failed: [{clip_id, reason}]}.
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from .calls import call
from .export import timeline_rate
from .rates import parse_rate

BIN_NAME = "ImaginTalk"
AUDIO_ONLY = 2  # AppendToTimeline's mediaType: 1 video only, 2 audio only


@dataclass
class Job:
    """One placement on its way to the timeline."""

    clip_id: str
    path: str
    record: int  # absolute timeline frame
    duration: int  # timeline frames
    track_name: str
    media: Any = None
    track_index: int = 0
    returned: bool = False  # AppendToTimeline answered with an item

    @property
    def end(self) -> int:
        """The first frame after the clip (exclusive)."""
        return self.record + self.duration


def place(project: Any, timeline: Any, placements: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply `placements` to `timeline` (which must still be the current one) and report."""
    failed: list[dict[str, str]] = []
    clip_ids = [str(p.get("clip_id", "?")) for p in placements]
    current = call(project, "GetCurrentTimeline")
    if not same_timeline(current, timeline):
        reason = (
            f"timeline '{timeline.GetName()}' is no longer the current one in Resolve: "
            "open it again and place again"
        )
        return {"placed": [], "failed": [{"clip_id": c, "reason": reason} for c in clip_ids]}
    rate = timeline_rate(timeline)
    start = int(timeline.GetStartFrame())
    jobs: list[Job] = []
    for placement in placements:
        job_or_reason = make_job(placement, rate, start)
        if isinstance(job_or_reason, Job):
            jobs.append(job_or_reason)
        else:
            failed.append({"clip_id": str(placement.get("clip_id", "?")), "reason": job_or_reason})
    media_pool = project.GetMediaPool()
    media = import_audio(media_pool, [job.path for job in jobs]) if jobs else {}
    ready = []
    for job in jobs:
        job.media = media.get(_path_key(job.path))
        if job.media is None:
            reason = f"Resolve could not import {job.path}"
            failed.append({"clip_id": job.clip_id, "reason": reason})
        else:
            ready.append(job)
    tracks = _lay_out(timeline, ready, failed)
    for job in ready:
        if job.track_index:
            job.returned = append(media_pool, job, rate)
    outcome: dict[str, str] = {}
    for index, name in tracks:
        on_track = [job for job in ready if job.track_index == index]
        outcome.update(read_back(timeline, index, name, on_track))
    placed = [job.clip_id for job in ready if job.clip_id in outcome and not outcome[job.clip_id]]
    failed += [{"clip_id": c, "reason": r} for c, r in outcome.items() if r]
    order = {c: i for i, c in enumerate(clip_ids)}
    failed.sort(key=lambda f: order.get(f["clip_id"], len(order)))
    return {"placed": placed, "failed": failed}


def same_timeline(a: Any, b: Any) -> bool:
    """Whether two Resolve timeline objects are the same timeline (by unique id, else name)."""
    if a is None or b is None:
        return False
    ids = call(a, "GetUniqueId"), call(b, "GetUniqueId")
    if ids[0] and ids[1]:
        return bool(ids[0] == ids[1])
    return bool(a.GetName() == b.GetName())


def make_job(placement: dict[str, Any], rate: Fraction, start: int) -> Job | str:
    """A placement checked against the timeline, or the reason it cannot be placed."""
    clip_id = str(placement.get("clip_id", "?"))
    asked = parse_rate(placement.get("rate"))
    if asked != rate:
        return (
            f"placement rate {placement.get('rate')} fps is not the timeline's "
            f"{float(rate):.3f} fps"
        )
    record, duration = _whole(placement.get("record_start")), _whole(placement.get("duration"))
    if record is None or duration is None:
        return (
            f"record_start {placement.get('record_start')} / duration "
            f"{placement.get('duration')} are not whole frames"
        )
    if record < 0 or duration < 1:
        return f"record_start {record} / duration {duration} frames are out of range"
    path = str(placement.get("audio_path") or "")
    if not path or not Path(path).is_file():
        return f"audio file not found: {path or '(none given)'}"
    path = str(Path(path).resolve())
    track_name = str(placement.get("track_name") or "ImaginTalk Dialogue")
    return Job(clip_id, path, start + record, duration, track_name)


def _whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def import_audio(media_pool: Any, paths: list[str]) -> dict[str, Any]:
    """Media pool items by path key: reused from the ImaginTalk bin or imported into it."""
    folder = ensure_bin(media_pool)
    found = {_path_key(_file_path(item)): item for item in (folder.GetClipList() or [])}
    missing = sorted({p for p in paths if _path_key(p) not in found})
    if missing:
        previous = call(media_pool, "GetCurrentFolder")
        media_pool.SetCurrentFolder(folder)
        try:
            for item in media_pool.ImportMedia(missing) or []:
                found[_path_key(_file_path(item))] = item
        finally:
            if previous is not None:
                media_pool.SetCurrentFolder(previous)
    return found


def ensure_bin(media_pool: Any) -> Any:
    """The "ImaginTalk" bin under the media pool's root, made when missing."""
    root = media_pool.GetRootFolder()
    for folder in root.GetSubFolderList() or []:
        if folder.GetName() == BIN_NAME:
            return folder
    folder = media_pool.AddSubFolder(root, BIN_NAME)
    return folder if folder is not None else root


def _file_path(item: Any) -> str:
    return str(call(item, "GetClipProperty", "File Path") or "")


def _path_key(path: str) -> str:
    return os.path.normcase(os.path.normpath(path)) if path else ""


def _lay_out(timeline: Any, jobs: list[Job], failed: list[dict[str, str]]) -> list[tuple[int, str]]:
    """New audio tracks for the jobs (a job's `track_index` is set); returns (index, name)."""
    used = {
        str(call(timeline, "GetTrackName", "audio", i) or "")
        for i in range(1, int(timeline.GetTrackCount("audio") or 0) + 1)
    }
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.track_name, []).append(job)
    made = []
    for base, group in groups.items():
        for lane in _lanes(group):
            name = _free_name(base, used)
            used.add(name)
            index = add_audio_track(timeline, name, _subtype(lane[0].path))
            if index is None:
                reason = f"Resolve could not add the audio track '{name}'"
                failed += [{"clip_id": job.clip_id, "reason": reason} for job in lane]
                continue
            for job in lane:
                job.track_index = index
            made.append((index, name))
    return made


def _lanes(jobs: list[Job]) -> list[list[Job]]:
    """Jobs packed onto as few tracks as possible with no two overlapping on one track."""
    lanes: list[list[Job]] = []
    for job in sorted(jobs, key=lambda j: j.record):
        lane = next((lane for lane in lanes if lane[-1].end <= job.record), None)
        if lane is None:
            lanes.append([job])
        else:
            lane.append(job)
    return lanes


def _free_name(base: str, used: set[str]) -> str:
    if base not in used:
        return base
    n = 2
    while f"{base} {n}" in used:
        n += 1
    return f"{base} {n}"


def _subtype(path: str) -> str:
    """The audio track format for a file: "stereo" for two channels, else "mono"."""
    try:
        with wave.open(path, "rb") as audio:
            return "stereo" if audio.getnchannels() == 2 else "mono"
    except (wave.Error, OSError, EOFError):
        return "mono"


def add_audio_track(timeline: Any, name: str, subtype: str) -> int | None:
    """Append an audio track named `name`; its index, or None when Resolve refused."""
    before = int(timeline.GetTrackCount("audio") or 0)
    if not timeline.AddTrack("audio", subtype):
        return None
    index = int(timeline.GetTrackCount("audio") or 0)
    if index != before + 1:
        return None
    timeline.SetTrackName("audio", index, name)
    return index


def append(media_pool: Any, job: Job, rate: Fraction) -> bool:
    """Append one clip where the job says; whether Resolve answered with an item."""
    info = {
        "mediaPoolItem": job.media,
        "startFrame": 0,
        "endFrame": source_end(job.media, job.duration, rate),
        "mediaType": AUDIO_ONLY,
        "trackIndex": job.track_index,
        "recordFrame": job.record,
    }
    return bool(media_pool.AppendToTimeline([info]))


def source_end(media: Any, duration: int, rate: Fraction) -> int | float:
    """`endFrame` for `duration` timeline frames, counted in the clip's own rate."""
    own = parse_rate(call(media, "GetClipProperty", "FPS"))
    if own is None or own == rate:
        return duration
    end = Fraction(duration) * own / rate
    return int(end) if end.denominator == 1 else float(end)


def read_back(timeline: Any, index: int, name: str, jobs: list[Job]) -> dict[str, str]:
    """For each job on audio track `index`: "" when it sits exactly where asked, else why not."""
    items = timeline.GetItemListInTrack("audio", index) or []
    spans = [(int(i.GetStart()), int(i.GetEnd()), media_key(call(i, "GetMediaPoolItem")))
             for i in items]  # fmt: skip
    outcome: dict[str, str] = {}
    exact: set[tuple[int, int, str]] = set()
    for job in jobs:
        key = media_key(job.media)
        for span in spans:
            same_media = not key or not span[2] or span[2] == key
            if span[:2] == (job.record, job.end) and same_media and span not in exact:
                outcome[job.clip_id] = ""
                exact.add(span)
                break
    for job in jobs:
        if job.clip_id in outcome:
            continue
        key = media_key(job.media)
        mine = [s for s in spans if key and s[2] == key and s not in exact]
        if not job.returned:
            outcome[job.clip_id] = (
                f"Resolve refused it (AppendToTimeline returned nothing for frames "
                f"{job.record}-{job.end} on track '{name}')"
            )
        elif mine:
            first, end = mine[0][0], mine[0][1]
            outcome[job.clip_id] = (
                f"landed at frames {first}-{end} instead of {job.record}-{job.end} "
                f"on track '{name}'"
            )
        else:
            outcome[job.clip_id] = (
                f"Resolve dropped it silently (frames {job.record}-{job.end} on track "
                f"'{name}': does it overlap another clip?)"
            )
    return outcome


def media_key(media: Any) -> str:
    """A media pool item's identity: `GetMediaId()`, else its file path."""
    if media is None:
        return ""
    return str(call(media, "GetMediaId") or _file_path(media) or "")
