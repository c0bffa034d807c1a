"""The front-end's entry points: a clip or a file range to a LipTrack, through the cache.

A second run on the same media range with the same parameters reads the cached track instead
of decoding; the cache key is the file's content identity, the range and the parameters.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from opentimelineio.opentime import RationalTime

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.errors import MediaOfflineError
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend.cache import LipTrackCache, cache_key
from imagintalk_plugin.frontend.clip_source import clip_range_seconds
from imagintalk_plugin.frontend.decoding import VideoInfo, probe_video
from imagintalk_plugin.frontend.face_models import FaceModels
from imagintalk_plugin.frontend.lip_track_builder import (
    FrontendParams,
    PreparedLipTrack,
    build_lip_track,
)


def prepare_range(
    path: Path,
    start_s: float,
    end_s: float | None,
    *,
    clip_id: str,
    start: RationalTime | None = None,
    params: FrontendParams | None = None,
    cache: LipTrackCache | None = None,
    models: FaceModels | None = None,
    best_effort: bool = False,
    info: VideoInfo | None = None,
) -> Job[PreparedLipTrack]:
    """Job: the LipTrack of a file range, from the cache when it is there."""
    params = params or FrontendParams()
    cache = cache if cache is not None else LipTrackCache()
    key = cache_key(path, start_s, end_s, params.cache_params())
    hit = cache.get_entry(key)
    if hit is not None:
        track, meta = hit
        yield Progress("cache", 1, 1, clip_id, "from cache")
        if track.clip_id != clip_id or (start is not None and track.start != start):
            track = _relabel(track, clip_id, start)
        return PreparedLipTrack(
            track,
            face_frame=int(meta.get("face_frame", -1)),
            faces_seen=int(meta.get("faces_seen", 0)),
            notes=[*meta.get("notes", []), "from cache"],
            frames_found=int(meta.get("frames_found", 0)),
        )
    prepared = yield from build_lip_track(
        path,
        start_s,
        end_s,
        clip_id=clip_id,
        start=start,
        params=params,
        models=models,
        best_effort=best_effort,
        info=info,
    )
    if prepared.faces_seen > 0:  # a no-face best-effort track is not worth keeping
        cache.put(key, prepared.track, prepared.metadata())
    return prepared


def _relabel(track: LipTrack, clip_id: str, start: RationalTime | None) -> LipTrack:
    return replace(track, clip_id=clip_id, start=start if start is not None else track.start)


def prepare_clip(
    clip: ClipRef,
    *,
    params: FrontendParams | None = None,
    cache: LipTrackCache | None = None,
    models: FaceModels | None = None,
    best_effort: bool = False,
) -> Job[PreparedLipTrack]:
    """Job: the LipTrack of a timeline clip's source range (offline media is an error)."""
    if clip.offline or not clip.media_path or not Path(clip.media_path).is_file():
        raise MediaOfflineError(clip.name, clip.media_path)
    path = Path(clip.media_path)
    info = probe_video(path)
    start_s, end_s = clip_range_seconds(clip, info)
    return (
        yield from prepare_range(
            path,
            start_s,
            end_s,
            clip_id=clip.clip_id,
            start=clip.source_range.start_time,
            params=params,
            cache=cache,
            models=models,
            best_effort=best_effort,
            info=info,
        )
    )
