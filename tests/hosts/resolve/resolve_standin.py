# ruff: noqa: N802  (Resolve's API names: GetName, AppendToTimeline, ...)
"""A stand-in for DaVinci Resolve's scripting API: the objects the bridge uses, with the
behaviours the Resolve scripting README documents and users report.

Objects: Resolve, ProjectManager, Project, MediaPool, Folder, MediaPoolItem, Timeline,
TimelineItem (method names and arguments as in the README). Behaviours:

- frames on the timeline are absolute: a timeline at 01:00:00:00 and 24 fps starts at frame
  86400, `GetStart`/`GetEnd` are absolute and `GetEnd` is exclusive;
- `AppendToTimeline([{clipInfo}])`: `recordFrame` is absolute, `endFrame` exclusive and both
  counted in the clip's own rate ("FPS"); a fractional frame is rejected (that clip is not
  appended and not returned); an append onto frames a clip already occupies on that track is
  silently dropped (the item is returned but never lands on the track);
- `ImportMedia` skips missing files and files already in the current folder;
- versions: `EXPORT_OTIO` exists from 18.5 only; product "DaVinci Resolve Studio" or
  "DaVinci Resolve" (free);
- `Timeline.Export(path, EXPORT_OTIO, ...)` writes OTIO with `opentimelineio` (or copies a real
  Resolve export given as the timeline's content), or fails when told to.
"""

from __future__ import annotations

import itertools
import shutil
import wave
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.timeline.reading import read_timeline
from imagintalk_plugin.timeline.timecode import exact_rate, to_frames

EXPORT_CONSTANTS = {"EXPORT_AAF": 0, "EXPORT_DRT": 1, "EXPORT_EDL": 2, "EXPORT_NONE": 20}
EXPORT_OTIO = 17
AUDIO_SUFFIXES = (".wav", ".bwf", ".aif", ".aiff", ".mp3")
_ids = itertools.count(1)

VERSIONS = {  # what GetVersion() returns in each stand-in
    "18.1": [18, 1, 4, 9, ""],
    "18.5": [18, 5, 1, 6, ""],
    "19": [19, 1, 3, 7, ""],
    "20": [20, 0, 1, 8, ""],
}


def rate_text(rate: Fraction) -> str:
    """A rate as Resolve's settings write it ("23.976", "25")."""
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")


def _whole(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


class MediaPoolItem:
    """A clip in the media pool."""

    def __init__(self, path: str, fps: Fraction, frames: int, name: str | None = None) -> None:
        self._id = f"media-{next(_ids)}"
        self._props = {
            "File Path": path,
            "Clip Name": name or Path(path.replace("\\", "/")).name,
            "FPS": rate_text(fps),
            "Frames": str(frames),
        }
        self.fps = exact_rate(float(fps))

    def GetName(self) -> str:
        return self._props["Clip Name"]

    def GetClipProperty(self, name: str | None = None) -> Any:
        return dict(self._props) if not name else self._props.get(name, "")

    def GetMediaId(self) -> str:
        return self._id

    def GetUniqueId(self) -> str:
        return self._id


class TimelineItem:
    """A clip on a track; frames absolute, end exclusive."""

    def __init__(
        self, name: str, start: int, end: int, media: MediaPoolItem | None, left: int = 0
    ) -> None:
        self._name, self._start, self._end, self._media, self._left = name, start, end, media, left
        self.enabled = True

    def GetName(self) -> str:
        return self._name

    def GetStart(self, subframe_precision: bool = False) -> int:
        return self._start

    def GetEnd(self, subframe_precision: bool = False) -> int:
        return self._end

    def GetDuration(self, subframe_precision: bool = False) -> int:
        return self._end - self._start

    def GetLeftOffset(self, subframe_precision: bool = False) -> int:
        return self._left

    def GetMediaPoolItem(self) -> MediaPoolItem | None:
        return self._media

    def GetClipEnabled(self) -> bool:
        return self.enabled


class _Track:
    def __init__(self, name: str, subtype: str = "") -> None:
        self.name, self.subtype, self.items, self.enabled = name, subtype, [], True


class Timeline:
    """A timeline: video and audio tracks of absolute-frame items."""

    def __init__(
        self,
        name: str,
        rate: Fraction,
        start_frame: int,
        export_file: Path | None = None,
        export_works: bool = True,
        drop_frame: bool = False,
    ) -> None:
        self._name, self.rate, self._start = name, rate, start_frame
        self._id = f"timeline-{next(_ids)}"
        self.export_file, self.export_works, self.drop_frame = export_file, export_works, drop_frame
        self.tracks: dict[str, list[_Track]] = {"video": [], "audio": [], "subtitle": []}
        self.exports: list[tuple[Any, ...]] = []

    # building (test side) ----------------------------------------------------------------------
    def add_video_clip(
        self,
        track: int,
        media: MediaPoolItem | None,
        record_start: int,
        duration: int,
        left: int = 0,
        name: str | None = None,
    ) -> TimelineItem:
        """Put a clip on video track `track` (made when missing) at `record_start` frames after
        the timeline's first frame."""
        while len(self.tracks["video"]) < track:
            self.tracks["video"].append(_Track(f"Video {len(self.tracks['video']) + 1}"))
        start = self._start + record_start
        label = name or (media.GetName() if media else "Solid Color")
        item = TimelineItem(label, start, start + duration, media, left)
        self.tracks["video"][track - 1].items.append(item)
        return item

    # the API -----------------------------------------------------------------------------------
    def GetName(self) -> str:
        return self._name

    def GetUniqueId(self) -> str:
        return self._id

    def GetStartFrame(self) -> int:
        return self._start

    def GetEndFrame(self) -> int:
        ends = [i.GetEnd() for kind in self.tracks.values() for t in kind for i in t.items]
        return max(ends, default=self._start)

    def GetSetting(self, name: str | None = None) -> Any:
        settings = {"timelineFrameRate": rate_text(self.rate) + (" DF" if self.drop_frame else "")}
        return settings if not name else settings.get(name, "")

    def GetTrackCount(self, track_type: str) -> int:
        return len(self.tracks[track_type])

    def GetTrackName(self, track_type: str, index: int) -> str:
        return self.tracks[track_type][index - 1].name

    def SetTrackName(self, track_type: str, index: int, name: str) -> bool:
        self.tracks[track_type][index - 1].name = name
        return True

    def GetIsTrackEnabled(self, track_type: str, index: int) -> bool:
        return self.tracks[track_type][index - 1].enabled

    def AddTrack(self, track_type: str, sub_type: str | None = None) -> bool:
        kind = self.tracks[track_type]
        label = {"video": "Video", "audio": "Audio", "subtitle": "Subtitle"}[track_type]
        kind.append(_Track(f"{label} {len(kind) + 1}", sub_type or "mono"))
        return True

    def GetTrackSubType(self, track_type: str, index: int) -> str:
        return self.tracks[track_type][index - 1].subtype

    def GetItemListInTrack(self, track_type: str, index: int) -> list[TimelineItem]:
        return sorted(self.tracks[track_type][index - 1].items, key=lambda i: i.GetStart())

    def Export(self, path: str, export_type: int, export_subtype: int | None = None) -> bool:
        self.exports.append((path, export_type, export_subtype))
        if export_type != EXPORT_OTIO or not self.export_works:
            return False
        if self.export_file is not None:
            shutil.copyfile(self.export_file, path)
        else:
            otio.adapters.write_to_file(self._to_otio(), path, adapter_name="otio_json")
        return True

    def _to_otio(self) -> otio.schema.Timeline:
        """What Resolve's exporter writes, built with opentimelineio itself."""
        fps = float(self.rate)
        out = otio.schema.Timeline(
            name=self._name, global_start_time=RationalTime(self._start, fps)
        )
        out.metadata["Resolve_OTIO"] = {}
        for track in self.tracks["video"]:
            lane = otio.schema.Track(name=track.name, kind=otio.schema.TrackKind.Video)
            cursor = self._start
            for item in self.GetItemListInTrack("video", self.tracks["video"].index(track) + 1):
                if item.GetStart() > cursor:
                    gap = TimeRange(
                        RationalTime(0, fps), RationalTime(item.GetStart() - cursor, fps)
                    )
                    lane.append(otio.schema.Gap(source_range=gap))
                lane.append(self._clip(item, fps))
                cursor = item.GetEnd()
            out.tracks.append(lane)
        return out

    @staticmethod
    def _clip(item: TimelineItem, fps: float) -> otio.schema.Clip:
        media = item.GetMediaPoolItem()
        source = TimeRange(
            RationalTime(item.GetLeftOffset(), fps), RationalTime(item.GetDuration(), fps)
        )
        clip = otio.schema.Clip(name=item.GetName(), source_range=source)
        clip.metadata["Resolve_OTIO"] = {}
        if media is None:
            clip.media_reference = otio.schema.GeneratorReference(generator_kind=item.GetName())
            return clip
        path = media.GetClipProperty("File Path")
        media_fps = float(media.fps)
        available = TimeRange(
            RationalTime(0, media_fps),
            RationalTime(int(media.GetClipProperty("Frames")), media_fps),
        )
        head, _, tail = path.rpartition("/")
        if "[" in tail:  # an image sequence: "name.[1000-1100].ext"
            prefix, _, rest = tail.partition("[")
            first, _, rest = rest.partition("-")
            _, _, suffix = rest.partition("]")
            clip.media_reference = otio.schema.ImageSequenceReference(
                target_url_base=head, name_prefix=prefix, name_suffix=suffix,
                start_frame=int(first), rate=media_fps, frame_zero_padding=len(first),
                available_range=available,
            )  # fmt: skip
        else:
            clip.media_reference = otio.schema.ExternalReference(
                target_url=path, available_range=available
            )
        return clip

    # AppendToTimeline's work -------------------------------------------------------------------
    def append(self, info: dict[str, Any]) -> TimelineItem | None:
        """One clipInfo: None when rejected; an item (placed or silently dropped) otherwise."""
        media = info.get("mediaPoolItem")
        if not isinstance(media, MediaPoolItem):
            return None
        first, last = _whole(info.get("startFrame", 0)), _whole(info.get("endFrame"))
        record = info.get("recordFrame")
        if first is None or last is None or last <= first:
            return None  # fractional or empty source range
        audio = media.GetClipProperty("File Path").lower().endswith(AUDIO_SUFFIXES)
        kind = {1: "video", 2: "audio"}.get(info.get("mediaType"), "audio" if audio else "video")
        index = int(info.get("trackIndex", 1))
        if not 1 <= index <= len(self.tracks[kind]):
            return None
        track = self.tracks[kind][index - 1]
        frames = Fraction(last - first) * self.rate / media.fps
        if frames.denominator != 1:
            return None
        if record is None:
            start = max((i.GetEnd() for i in track.items), default=self._start)
        else:
            start = _whole(record)
            if start is None:
                return None  # fractional record frames are rejected
        item = TimelineItem(media.GetName(), start, start + int(frames), media, first)
        if any(i.GetStart() < item.GetEnd() and item.GetStart() < i.GetEnd() for i in track.items):
            return item  # silently dropped: returned, never on the track
        track.items.append(item)
        return item


class Folder:
    """A media pool bin."""

    def __init__(self, name: str) -> None:
        self._name, self.subfolders, self.clips = name, [], []
        self._id = f"folder-{next(_ids)}"

    def GetName(self) -> str:
        return self._name

    def GetSubFolderList(self) -> list[Folder]:
        return list(self.subfolders)

    def GetClipList(self) -> list[MediaPoolItem]:
        return list(self.clips)

    def GetUniqueId(self) -> str:
        return self._id


class MediaPool:
    """The project's media pool; appends go to the project's current timeline."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self.root = Folder("Master")
        self.current = self.root

    def GetRootFolder(self) -> Folder:
        return self.root

    def AddSubFolder(self, folder: Folder, name: str) -> Folder:
        sub = Folder(name)
        folder.subfolders.append(sub)
        return sub

    def GetCurrentFolder(self) -> Folder:
        return self.current

    def SetCurrentFolder(self, folder: Folder) -> bool:
        self.current = folder
        return True

    def ImportMedia(self, items: list[str]) -> list[MediaPoolItem]:
        made = []
        present = {c.GetClipProperty("File Path") for c in self.current.clips}
        for path in items:
            if not Path(path).is_file() or path in present:
                continue
            media = MediaPoolItem(path, self._project.audio_fps, frames=48000)
            self.current.clips.append(media)
            made.append(media)
        return made

    def AppendToTimeline(self, infos: list[dict[str, Any]]) -> list[TimelineItem]:
        timeline = self._project.GetCurrentTimeline()
        if timeline is None:
            return []
        appended = [timeline.append(info) for info in infos]
        return [item for item in appended if item is not None]


class Project:
    """A project holding timelines and a media pool."""

    def __init__(self, name: str, timelines: list[Timeline], audio_fps: Fraction | None = None):
        self._name, self.timelines = name, list(timelines)
        self.current = self.timelines[0] if self.timelines else None
        self.audio_fps = audio_fps or (self.current.rate if self.current else Fraction(24))
        self.media_pool = MediaPool(self)

    def GetName(self) -> str:
        return self._name

    def GetMediaPool(self) -> MediaPool:
        return self.media_pool

    def GetCurrentTimeline(self) -> Timeline | None:
        return self.current

    def SetCurrentTimeline(self, timeline: Timeline) -> bool:
        self.current = timeline
        return True

    def GetTimelineCount(self) -> int:
        return len(self.timelines)


class ProjectManager:
    """The project manager: one current project (or none)."""

    def __init__(self, project: Project | None) -> None:
        self._project = project

    def GetCurrentProject(self) -> Project | None:
        return self._project


class Resolve:
    """The `resolve` object of one version and edition."""

    def __init__(self, version: str = "19", studio: bool = True, project: Project | None = None):
        self._fields = VERSIONS[version]
        self._product = "DaVinci Resolve Studio" if studio else "DaVinci Resolve"
        self._manager = ProjectManager(project)
        for name, value in EXPORT_CONSTANTS.items():
            setattr(self, name, value)
        if tuple(self._fields[:2]) >= (18, 5):
            self.EXPORT_OTIO = EXPORT_OTIO

    def GetProductName(self) -> str:
        return self._product

    def GetVersion(self) -> list[Any]:
        return list(self._fields)

    def GetVersionString(self) -> str:
        return ".".join(str(f) for f in self._fields[:4])

    def GetProjectManager(self) -> ProjectManager:
        return self._manager


class FusionApp:
    """Fusion's `app` global of a Scripts-menu run: `GetResolve()` gives the Resolve object."""

    def __init__(self, resolve: Resolve) -> None:
        self._resolve = resolve

    def GetResolve(self) -> Resolve:
        return self._resolve


def timeline_from_file(path: Path, name: str | None = None) -> Timeline:
    """A stand-in timeline holding what an OTIO file shows (its Export returns that file)."""
    loaded = read_timeline(path)
    rate = loaded.rate
    start = to_frames(loaded.start, rate)
    timeline = Timeline(name or path.stem, rate, start, export_file=path)
    for index, track in enumerate(loaded.timeline.video_tracks(), start=1):
        while len(timeline.tracks["video"]) < index:
            timeline.AddTrack("video")
        timeline.tracks["video"][index - 1].name = track.name or f"Video {index}"
        for child in track:
            if not isinstance(child, otio.schema.Clip):
                continue
            placed = child.range_in_parent()
            first, frames = to_frames(placed.start_time, rate), to_frames(placed.duration, rate)
            media = _media_of(child, rate)
            timeline.add_video_clip(index, media, first, frames, 0, child.name)
    return timeline


def _media_of(clip: otio.schema.Clip, rate: Fraction) -> MediaPoolItem | None:
    reference = clip.media_reference
    available = reference.available_range if reference is not None else None
    fps = exact_rate(available.duration.rate) if available is not None else rate
    frames = round(available.duration.value) if available is not None else 0
    if isinstance(reference, otio.schema.ExternalReference):
        return MediaPoolItem(reference.target_url, fps, frames)
    if isinstance(reference, otio.schema.ImageSequenceReference):
        last = reference.start_frame + max(frames, 1) - 1
        pad = reference.frame_zero_padding
        base = reference.target_url_base.replace("\\", "/").rstrip("/")
        name = f"{reference.name_prefix}[{reference.start_frame:0{pad}d}-{last:0{pad}d}]"
        return MediaPoolItem(f"{base}/{name}{reference.name_suffix}", fps, frames)
    return None


def write_wav(path: Path, seconds: float = 1.0, channels: int = 1, rate: int = 48000) -> Path:
    """A silent PCM WAV file (a generated take, as far as Resolve is concerned)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(channels)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"\0\0" * channels * int(seconds * rate))
    return path
