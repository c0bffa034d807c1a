"""`imagintalk prepare VIDEO`: one video range to a LipTrack file and a contact sheet.

Writes `<stem>.liptrack.npz` and `<stem>.contact.png` into the output folder. Existing outputs
are refused without `force`; if anything fails, nothing half-written is left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from opentimelineio.opentime import RationalTime

from imagintalk_plugin.core.errors import OutputExistsError, UsageError, VideoReadError
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.frontend.alignment import mouth_crop_transforms, reference_landmarks
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.frontend.clip_source import file_timecode_origin
from imagintalk_plugin.frontend.contact_sheet import render_contact_sheet, write_png
from imagintalk_plugin.frontend.decoding import VideoInfo, iter_frames, probe_video
from imagintalk_plugin.frontend.face_models import shared_face_models
from imagintalk_plugin.frontend.lip_track_builder import FrontendParams, PreparedLipTrack
from imagintalk_plugin.frontend.lip_track_io import save_lip_track
from imagintalk_plugin.frontend.prepare import prepare_range

_TIMECODE = re.compile(r"^\d{1,2}:\d{2}:\d{2}[:;.]\d{2}$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")


def parse_position(text: str, info: VideoInfo) -> float:
    """Seconds into the file for `--start`/`--end`.

    Accepts seconds (`12.5`), a clock (`1:02.5`, `0:01:02.5`) or a timecode `HH:MM:SS:FF`
    (`;` for drop frame) at the video's rate. A timecode at or after the file's embedded start
    timecode is read as source timecode, the way an editor sees it.
    """
    text = text.strip()
    try:
        if _TIMECODE.match(text) and "." not in text[-3:]:
            rate = info.fps or 25.0
            time = RationalTime.from_timecode(text, rate)
            origin = file_timecode_origin(info, rate)
            if origin is not None and time.to_seconds() >= origin.to_seconds():
                time = time - origin
            return time.to_seconds()
        clock = _CLOCK.match(text)
        if clock:
            hours, minutes, secs = clock.groups()
            return int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
        value = float(text)
    except ValueError as exc:
        raise UsageError(f"bad time '{text}': {exc}") from exc
    if value < 0:
        raise UsageError(f"bad time '{text}': negative")
    return value


@dataclass(frozen=True)
class PrepareOutputs:
    """Where `prepare` wrote its files, and what it found."""

    lip_track: Path
    contact_sheet: Path
    prepared: PreparedLipTrack

    def summary(self) -> str:
        """A few human lines for the terminal."""
        track = self.prepared.track
        lines = [
            (
                f"{track.num_frames} frames at {track.fps:g} fps, face on {int(track.valid.sum())}"
                f" ({self.prepared.faces_seen} face(s) seen)"
            ),
            *(f"note: {n}" for n in self.prepared.notes),
            f"lip track:     {self.lip_track}",
            f"contact sheet: {self.contact_sheet}",
        ]
        return "\n".join(lines)


def prepare_video(
    video: Path,
    out_dir: Path,
    *,
    start: str | None = None,
    end: str | None = None,
    params: FrontendParams | None = None,
    use_cache: bool = True,
    best_effort: bool = False,
    force: bool = False,
) -> Job[PrepareOutputs]:
    """Job: prepare one video range and write the LipTrack npz and the contact sheet PNG."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out '{out_dir}' is a file, not a folder")
    info = probe_video(video)
    start_s = parse_position(start, info) if start else 0.0
    end_s = parse_position(end, info) if end else None
    if end_s is not None and end_s <= start_s:
        raise VideoReadError(video, f"empty range: --end {end} is not after --start {start}")
    npz = out_dir / f"{video.stem}.liptrack.npz"
    png = out_dir / f"{video.stem}.contact.png"
    for path in (npz, png):
        if path.exists() and not force:
            raise OutputExistsError(path)
    params = params or FrontendParams()
    prepared = yield from prepare_range(
        video,
        start_s,
        end_s,
        clip_id=video.stem,
        params=params,
        cache=LipTrackCache(enabled=use_cache),
        best_effort=best_effort,
        info=info,
    )
    yield Progress("contact sheet", 0, 1, video.stem)
    sheet = _contact_sheet(video, start_s, params, prepared)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        save_lip_track(prepared.track, npz, prepared.metadata())
        written.append(npz)
        write_png(sheet, png)
        written.append(png)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    yield Progress("contact sheet", 1, 1, video.stem)
    return PrepareOutputs(npz, png, prepared)


def _contact_sheet(
    video: Path, start_s: float, params: FrontendParams, prepared: PreparedLipTrack
) -> np.ndarray:
    """Render the sheet; the annotated frame is decoded again (one frame)."""
    track, index = prepared.track, prepared.face_frame
    title = f"{video.name}  from {start_s:.2f} s"
    if index < 0 or not track.valid[index]:
        return render_contact_sheet(track, title)
    t = start_s + index / params.fps
    frame = next(iter_frames(video, t, t + 1.0 / params.fps, params.fps, rgb_indices=[0]), None)
    if frame is None or frame.rgb is None:
        return render_contact_sheet(track, title)
    reference = reference_landmarks(shared_face_models().mean_shape)
    transforms = mouth_crop_transforms(
        track.landmarks, track.valid, reference, params.smooth_window
    )
    matrix = transforms[index]
    return render_contact_sheet(track, title, frame.rgb, index, matrix)
