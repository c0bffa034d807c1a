"""Face thumbnails for the clip list, made off the GUI thread.

A clip's thumbnail is the front-end's own face picture when its LipTrack is known:
`LipTrack.face_crop`, the aligned face at the frame whose identity embedding lies nearest the
clip's mean identity (where the face is surest), taken from a finished take or from the
front-end cache. Before that, a face is cut from the clip's middle frame (then its quarter
points): decoded with `iter_frames`, found by dlib's HOG detector (the surest box), placed
with the 68-point predictor and warped exactly like `face_crop`. Offline clips and clips
without a face get none.

The work runs on one background thread (a `ThreadPoolExecutor`, so nothing Qt has to be torn
down in order) and comes back as the `ready` signal, queued to the GUI thread. That thread
has its own copy of the HOG detector (dlib's detectors keep scratch state); the shape
predictor, which dlib documents as safe to share between threads, is the front-end's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QPixmap

from imagintalk_plugin.core.clips import ClipRef

log = logging.getLogger(__name__)

THUMB_PX = 40  # side of a thumbnail in the clip list
PROBE_POINTS = (0.5, 0.25, 0.75)  # where in the clip to look for a face, in order
_local = threading.local()


def usable(face: np.ndarray | None) -> bool:
    """Whether a stored face crop shows something (a no-face track stores zeros)."""
    return face is not None and face.ndim == 3 and bool(np.any(face))


def cached_face(clip: ClipRef, cache: Any = None) -> np.ndarray | None:
    """The face crop of the clip's LipTrack in the front-end cache (as `prepare_clip` keys
    it with default parameters), or None when the clip has not been read yet."""
    from imagintalk_plugin.frontend.cache import LipTrackCache, cache_key
    from imagintalk_plugin.frontend.clip_source import clip_range_seconds
    from imagintalk_plugin.frontend.decoding import probe_video
    from imagintalk_plugin.frontend.lip_track_builder import FrontendParams

    path = Path(str(clip.media_path))
    start_s, end_s = clip_range_seconds(clip, probe_video(path))
    cache = cache if cache is not None else LipTrackCache()
    track = cache.get(cache_key(path, start_s, end_s, FrontendParams().cache_params()))
    return track.face_crop if track is not None and usable(track.face_crop) else None


def _models() -> Any:
    """This thread's face models: the front-end's, with a detector of this thread's own."""
    if not hasattr(_local, "models"):
        from imagintalk_plugin.frontend.face_models import shared_face_models

        _local.models = shared_face_models().with_own_detector()
    return _local.models


def face_in_frame(rgb: np.ndarray, gray: np.ndarray) -> np.ndarray | None:
    """The aligned face crop (as `LipTrack.face_crop`) of the surest face in a frame, or None."""
    from imagintalk_plugin.frontend.alignment import (
        face_crop_transform,
        reference_landmarks,
        warp_face,
    )
    from imagintalk_plugin.frontend.tracking import detect_faces

    models = _models()
    boxes = detect_faces(models, gray)
    if not boxes:
        return None
    points = models.landmarks(gray, max(boxes, key=lambda b: b.score))
    matrix = face_crop_transform(points, reference_landmarks(models.mean_shape))
    return warp_face(rgb, matrix)


def frame_face(clip: ClipRef) -> np.ndarray | None:
    """A face cut from the clip's middle frame (else its quarter points), or None."""
    from imagintalk_plugin.frontend.clip_source import clip_range_seconds
    from imagintalk_plugin.frontend.decoding import iter_frames, probe_video

    path = Path(str(clip.media_path))
    start_s, end_s = clip_range_seconds(clip, probe_video(path))
    for point in PROBE_POINTS:
        at = start_s + point * (end_s - start_s)
        for frame in iter_frames(path, at, at + 0.04, 25.0, rgb_indices={0}):
            if frame.rgb is not None and (face := face_in_frame(frame.rgb, frame.gray)) is not None:
                return face
            break
    return None


def clip_face(clip: ClipRef, cache: Any = None) -> np.ndarray | None:
    """(H, W, 3) uint8 face of a clip: the cached LipTrack's, else one cut from a frame."""
    if clip.offline or not clip.media_path or not Path(clip.media_path).is_file():
        return None
    face = cached_face(clip, cache)
    return face if face is not None else frame_face(clip)


def face_pixmap(face: np.ndarray, side: int = THUMB_PX) -> QPixmap:
    """A square thumbnail of an RGB uint8 face."""
    rgb = np.ascontiguousarray(face[..., :3], dtype=np.uint8)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(
        side,
        side,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )


class ThumbnailMaker(QObject):
    """Makes clip faces on a background thread; `ready` brings each one to the GUI thread."""

    ready = Signal(int, str, object)  # generation, clip id, (H, W, 3) uint8 face or None

    def __init__(self, cache: Any = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cache = cache
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="imagintalk-thumbnails")
        self._futures: list[Future[None]] = []
        self.generation = 0

    def request(self, clips: list[ClipRef]) -> int:
        """Forget earlier requests and make faces for these clips; returns the generation
        their `ready` signals carry."""
        for future in self._futures:
            future.cancel()
        self.generation += 1
        self._futures = [self._pool.submit(self._make, self.generation, c) for c in clips]
        return self.generation

    def pending(self) -> int:
        """Requests not finished yet."""
        return sum(1 for f in self._futures if not f.done())

    def _make(self, generation: int, clip: ClipRef) -> None:
        if generation != self.generation:
            return
        try:
            face = clip_face(clip, self._cache)
        except Exception:  # an unreadable file just has no thumbnail
            log.debug("no thumbnail for %s", clip.clip_id, exc_info=True)
            face = None
        with contextlib.suppress(RuntimeError):  # the panel closed meanwhile
            self.ready.emit(generation, clip.clip_id, face)

    def shutdown(self) -> None:
        """Drop queued requests; the running one finishes on its own."""
        self.generation += 1
        self._pool.shutdown(wait=False, cancel_futures=True)
