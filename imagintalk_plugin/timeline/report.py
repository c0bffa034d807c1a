"""The `timeline inspect` report: a timeline's dubbable clips as JSON-ready data and as a table.

Frames are counted on the timeline's rate from its first frame, end exclusive; timecodes are
the timeline's (drop-frame spelled "HH:MM:SS;FF").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.timeline.reading import LoadedTimeline
from imagintalk_plugin.timeline.timecode import same_rate, timecode, to_frames

if TYPE_CHECKING:
    from imagintalk_plugin.timeline.relink import RelinkReport


def clip_record(loaded: LoadedTimeline, clip: ClipRef) -> dict[str, Any]:
    """One clip of the report."""
    fps = loaded.rate
    start_frame = to_frames(clip.record_range.start_time, fps)
    end_frame = start_frame + clip.duration_frames
    origin = to_frames(loaded.start, fps)
    media_fps = clip.media_fps or clip.source_range.start_time.rate
    source_drop = loaded.drop_frame and same_rate(media_fps, fps)
    source_start = to_frames(clip.source_range.start_time, media_fps)
    head, tail = clip.handle_head, clip.handle_tail
    return {
        "id": clip.clip_id,
        "name": clip.name,
        "track": clip.track_name,
        "record_start_frame": start_frame,
        "record_end_frame": end_frame,
        "record_start_timecode": timecode(origin + start_frame, fps, loaded.drop_frame),
        "source_start_timecode": timecode(source_start, media_fps, source_drop),
        "source_start_frame": source_start,
        "source_end_frame": source_start + to_frames(clip.source_range.duration, media_fps),
        "media_path": clip.media_path,
        "media_rate": clip.media_fps,
        "offline": clip.offline,
        "speaker": clip.speaker,
        "time_scalar": clip.time_scalar,
        "handle_head_frames": None if head is None else to_frames(head, media_fps),
        "handle_tail_frames": None if tail is None else to_frames(tail, media_fps),
        "notes": list(clip.notes),
    }


def inspect_report(
    loaded: LoadedTimeline, clips: list[ClipRef], relinked: RelinkReport | None = None
) -> dict[str, Any]:
    """The whole report: rate, start timecode, drop-frame, notes and the clips; with
    `relinked` (`--media-dir`), what relinking found under "relink"."""
    fps = loaded.rate
    report = {
        "file": str(loaded.path),
        "format": loaded.format,
        "name": loaded.timeline.name,
        "rate": float(fps),
        "drop_frame": loaded.drop_frame,
        "start_timecode": timecode(to_frames(loaded.start, fps), fps, loaded.drop_frame),
        "notes": list(loaded.notes),
        "clips": [clip_record(loaded, clip) for clip in clips],
    }
    if relinked is not None:
        report["relink"] = {
            "summary": relinked.summary(),
            "found": [{"name": n, "how": h, "path": p} for n, h, p in relinked.found],
            "missing": list(relinked.missing),
        }
    return report


def format_table(report: dict[str, Any]) -> str:
    """The report as a table for people (after the relink line, when there is one)."""
    lines = [report["relink"]["summary"]] if "relink" in report else []
    lines += [
        (
            f"{report['file']}  ({report['format']}, {report['rate']:.3f} fps"
            f"{' DF' if report['drop_frame'] else ''}, starts {report['start_timecode']})"
        ),
    ]
    lines += [f"  note: {note}" for note in report["notes"]]
    header = f"{'id':<8} {'track':<10} {'record in':<12} {'frames':>7}  {'status':<8} name"
    lines += ["", header, "-" * len(header)]
    for clip in report["clips"]:
        frames = clip["record_end_frame"] - clip["record_start_frame"]
        status = "offline" if clip["offline"] else "online"
        lines.append(
            f"{clip['id']:<8} {str(clip['track'])[:10]:<10} {clip['record_start_timecode']:<12} "
            f"{frames:>7}  {status:<8} {clip['name']}"
        )
    online = sum(not clip["offline"] for clip in report["clips"])
    lines.append(f"\n{len(report['clips'])} dubbable clip(s), {online} with media online")
    return "\n".join(lines)
