"""The front-end over an imported corpus, into the lip-track cache the trainers read.

The trainers run the same front-end on every clip (`pipeline.training_data`), keyed by the
video's content, so a track made here is a cache hit there: the import finds the clips with
no face before training does and leaves the expensive part done. Clips already in the cache
are skipped, which makes the pass resumable; clips are spread over `jobs` spawn workers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from pathlib import Path

from imagintalk_plugin.core.errors import ImagintalkError
from imagintalk_plugin.core.progress import Job, Progress, drive
from imagintalk_plugin.frontend.cache import LipTrackCache, cache_key
from imagintalk_plugin.frontend.lip_track_builder import FrontendParams, PreparedLipTrack
from imagintalk_plugin.frontend.prepare import prepare_range

STAGE = "front-end"


def is_cached(video: Path, cache: LipTrackCache) -> bool:
    """Whether the whole-clip track of `video` (default parameters) is in `cache`."""
    key = cache_key(video, 0.0, None, FrontendParams().cache_params())
    return cache.enabled and cache.path_for(key).is_file()


def _problem(prepared: PreparedLipTrack) -> str | None:
    return None if prepared.track.valid.any() else "no face found in any frame"


def _prepare(args: tuple[str, str, str]) -> tuple[str, str | None]:
    """Worker: one clip through the front-end into the cache; (id, why unusable or None)."""
    video, clip_id, cache_root = args
    cache = LipTrackCache(Path(cache_root))
    try:
        prepared = drive(prepare_range(Path(video), 0.0, None, clip_id=clip_id, cache=cache))
    except ImagintalkError as error:
        return clip_id, str(error)
    return clip_id, _problem(prepared)


def run_frontend(
    clips: Sequence[tuple[str, Path]], cache: LipTrackCache, jobs: int = 0
) -> Job[dict[str, str]]:
    """Job: the front-end over each (id, video) not cached yet; returns id -> why the clip is
    unusable (no face anywhere, unreadable video) for those that failed."""
    todo = [(clip_id, video) for clip_id, video in clips if not is_cached(video, cache)]
    failed: dict[str, str] = {}
    jobs = jobs or os.cpu_count() or 1
    yield Progress(STAGE, 0, len(todo), unit="clip")
    if jobs < 2 or len(todo) < 2:
        for done, (clip_id, video) in enumerate(todo, 1):
            try:
                prepared = yield from prepare_range(video, 0.0, None, clip_id=clip_id, cache=cache)
            except ImagintalkError as error:
                failed[clip_id] = str(error)
            else:
                if (problem := _problem(prepared)) is not None:
                    failed[clip_id] = problem
            yield Progress(STAGE, done, len(todo), unit="clip")
        return failed
    args = [(str(video), clip_id, str(cache.root)) for clip_id, video in todo]
    # spawn, not fork: OpenCV/dlib thread pools in this process must not be inherited
    pool = multiprocessing.get_context("spawn").Pool(min(jobs, len(todo)))
    try:
        for done, (clip_id, problem) in enumerate(pool.imap_unordered(_prepare, args), 1):
            if problem is not None:
                failed[clip_id] = problem
            yield Progress(STAGE, done, len(todo), unit="clip")
        pool.close()
    finally:
        pool.terminate()
        pool.join()
    return failed
