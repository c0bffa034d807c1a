"""Face tracking over a clip: detect every few frames, follow landmarks in between.

The HOG detector runs every `detect_every` frames (and more often while no face is tracked);
between detections each face's landmarks are re-placed from the box its previous landmarks
imply, which costs about a millisecond instead of a detection. A track that the detector misses
twice running is dropped from its last confirmed detection on, so drift is never kept. When
several faces are present, the speaking one is picked afterwards: largest, most present, and
with the most mouth motion, unless the caller names one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.frontend.expressions import mouth_opening
from imagintalk_plugin.frontend.face_models import FaceBox, FaceModels

DETECT_EVERY = 5
DETECT_SIDE = 200  # detector works on frames whose shorter side is scaled to about this
MATCH_IOU = 0.3
MIN_FACE_PX = 24


@dataclass
class FaceTrack:
    """One face followed over the clip; `points[t]` holds its landmarks at frame t."""

    track_id: int
    points: dict[int, np.ndarray] = field(default_factory=dict)
    last_confirmed: int = -1
    misses: int = 0
    active: bool = True
    box: FaceBox | None = None

    def landmarks(self, num_frames: int) -> np.ndarray:
        """(T, 68, 2) float32 with NaN where the face was not found."""
        out = np.full((num_frames, 68, 2), np.nan, np.float32)
        for t, pts in self.points.items():
            out[t] = pts
        return out


def detection_scales(height: int, width: int) -> tuple[float, ...]:
    """Scales to search at: a working size first, then finer for small faces."""
    base = min(1.0, DETECT_SIDE / min(height, width))
    return (base, min(1.0, base * 2.0)) if base < 1.0 else (1.0,)


def detect_faces(models: FaceModels, gray: np.ndarray) -> list[FaceBox]:
    """Faces of at least MIN_FACE_PX in a frame, at the first detection scale that finds any."""
    for scale in detection_scales(*gray.shape[:2]):
        boxes = [b for b in models.detect(gray, scale) if b.size >= MIN_FACE_PX]
        if boxes:
            return boxes
    return []


class FaceTracker:
    """Feed frames in order with `update`; read `tracks` at the end."""

    def __init__(self, models: FaceModels, detect_every: int = DETECT_EVERY) -> None:
        self.models = models
        self.detect_every = max(1, detect_every)
        self.tracks: list[FaceTrack] = []
        self._last_detection = -(10**9)

    def _detect(self, gray: np.ndarray) -> list[FaceBox]:
        return detect_faces(self.models, gray)

    def update(self, index: int, gray: np.ndarray) -> None:
        """Process frame `index` (frames must come in increasing order)."""
        active = [t for t in self.tracks if t.active]
        interval = self.detect_every if active else 2
        if index - self._last_detection >= interval:
            self._last_detection = index
            self._detection_step(index, gray)
        else:
            for track in active:
                self._follow(track, index, gray)

    def _place(self, track: FaceTrack, index: int, gray: np.ndarray, box: FaceBox) -> None:
        points = self.models.landmarks(gray, box)
        track.points[index] = points
        track.box = self.models.box_from_landmarks(points)
        h, w = gray.shape[:2]
        b = track.box
        inside = min(b.right, w) - max(b.left, 0.0), min(b.bottom, h) - max(b.top, 0.0)
        if b.size < MIN_FACE_PX or inside[0] < 0.5 * b.size or inside[1] < 0.5 * b.size:
            self._drop(track)  # left the picture

    def _follow(self, track: FaceTrack, index: int, gray: np.ndarray) -> None:
        if track.box is not None:
            self._place(track, index, gray, track.box)

    def _drop(self, track: FaceTrack) -> None:
        """Stop a track and forget what it followed since its last confirmed detection."""
        track.active = False
        for t in [t for t in track.points if t > track.last_confirmed]:
            del track.points[t]
        track.box = None

    def _detection_step(self, index: int, gray: np.ndarray) -> None:
        boxes = sorted(self._detect(gray), key=lambda b: -b.score)
        unmatched = list(self.tracks)
        for box in boxes:
            best, best_iou = None, MATCH_IOU
            for track in unmatched:
                reference = track.box or self._last_box(track)
                iou = box.iou(reference) if reference is not None else 0.0
                if iou > best_iou:
                    best, best_iou = track, iou
            if best is None:
                best = FaceTrack(track_id=len(self.tracks))
                self.tracks.append(best)
            else:
                unmatched.remove(best)
            best.active, best.misses, best.last_confirmed = True, 0, index
            self._place(best, index, gray, box)
        for track in unmatched:
            if not track.active:
                continue
            track.misses += 1
            if track.misses >= 2:
                self._drop(track)
            else:
                self._follow(track, index, gray)

    def _last_box(self, track: FaceTrack) -> FaceBox | None:
        if not track.points:
            return None
        return self.models.box_from_landmarks(track.points[max(track.points)])


def pick_speaker(
    tracks: list[FaceTrack],
    num_frames: int,
    mean_shape: np.ndarray,
    face: int | None = None,
) -> FaceTrack | None:
    """The speaking face: largest x present x mouth motion; or the `face`-th from the left."""
    candidates = [t for t in tracks if t.points]
    if not candidates:
        return None
    if face is not None:
        present = [t for t in candidates if len(t.points) >= 0.1 * num_frames] or candidates
        present.sort(key=lambda t: float(np.median([p[:, 0].mean() for p in t.points.values()])))
        if not 0 <= face < len(present):
            raise UsageError(f"--face {face}: the clip shows {len(present)} face(s), 0 is leftmost")
        return present[face]

    def stats(track: FaceTrack) -> tuple[float, float, float]:
        pts = np.stack(list(track.points.values()))
        size = float(np.median(np.ptp(pts[:, :, 0], axis=1)))
        motion = float(np.std(mouth_opening(pts, mean_shape))) if len(pts) > 2 else 0.0
        return len(pts) / num_frames, size, motion

    measured = [(t, *stats(t)) for t in candidates]
    max_size = max(m[2] for m in measured) or 1.0
    return max(measured, key=lambda m: m[1] * (m[2] / max_size) * (m[3] + 0.01))[0]


def fill_gaps(landmarks: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate missing frames (NaN) in runs of at most `max_gap` between found frames.

    Returns landmarks (T, 68, 2) and the validity mask. Longer runs, and runs at the clip's
    ends (nothing to interpolate from), stay invalid; their landmarks are zero.
    """
    found = ~np.isnan(landmarks[:, 0, 0])
    valid = found.copy()
    out = np.where(found[:, None, None], landmarks, 0.0).astype(np.float32)
    idx = np.flatnonzero(found)
    for a, b in itertools.pairwise(idx):
        gap = b - a - 1
        if 0 < gap <= max_gap:
            w = (np.arange(1, gap + 1) / (gap + 1))[:, None, None]
            out[a + 1 : b] = (1 - w) * landmarks[a] + w * landmarks[b]
            valid[a + 1 : b] = True
    return out, valid
