"""From a video range to a LipTrack: track the face, align the mouth, embed the identity.

Two passes over the range. The first tracks every face (landmarks only, on grayscale frames);
after it the speaking face is chosen, short gaps are interpolated and landmarks smoothed. The
second pass decodes the same frames again and cuts the aligned mouth crops, and embeds the face
on a few well-spread frames. Decoding twice is cheaper than holding minutes of frames in memory.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from opentimelineio.opentime import RationalTime

from imagintalk_plugin.core.errors import NoFaceError, VideoReadError
from imagintalk_plugin.core.heap import release_free_heap
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend.alignment import (
    FACE_CROP_SIZE,
    MOUTH_CROP_SIZE,
    SMOOTH_WINDOW,
    face_crop_transform,
    mouth_crop_transforms,
    reference_landmarks,
    warp_face,
    warp_mouth,
)
from imagintalk_plugin.frontend.decoding import (
    VideoInfo,
    count_output_frames,
    iter_frames,
    probe_video,
)
from imagintalk_plugin.frontend.expressions import EXPRESSION_FEATURES, expression_features
from imagintalk_plugin.frontend.face_models import EMBEDDING_DIM, FaceModels, shared_face_models
from imagintalk_plugin.frontend.tracking import DETECT_EVERY, FaceTracker, fill_gaps, pick_speaker

log = logging.getLogger(__name__)

FRONTEND_VERSION = "1"  # bump when the output of the same parameters changes
PROGRESS_EVERY = 10


@dataclass(frozen=True)
class FrontendParams:
    """Everything that changes a LipTrack; part of the cache key."""

    fps: float = 25.0
    detect_every: int = DETECT_EVERY
    smooth_window: int = SMOOTH_WINDOW
    max_gap_s: float = 0.5
    face: int | None = None  # None: the speaking face; else the n-th face from the left
    embed_frames: int = 5

    def cache_params(self) -> dict[str, object]:
        """The parameters and front-end version, as the cache key sees them."""
        return {**asdict(self), "frontend_version": FRONTEND_VERSION}


@dataclass(frozen=True)
class PreparedLipTrack:
    """A LipTrack plus what a person checking it wants to know."""

    track: LipTrack
    face_frame: int  # frame of the representative face (for the contact sheet)
    faces_seen: int
    notes: list[str] = field(default_factory=list)
    frames_found: int = 0  # frames where the face was detected or tracked (not interpolated)

    def metadata(self) -> dict[str, object]:
        """JSON-ready facts stored beside the track."""
        return {
            "face_frame": self.face_frame,
            "faces_seen": self.faces_seen,
            "frames_found": self.frames_found,
            "notes": list(self.notes),
            "expression_features": list(EXPRESSION_FEATURES),
        }


def _embedding_frames(found: np.ndarray, count: int) -> list[int]:
    """Up to `count` frames spread over those where the face was really detected."""
    idx = np.flatnonzero(found)
    if len(idx) == 0:
        return []
    picks = np.linspace(0, len(idx) - 1, num=min(count, len(idx)) + 2)[1:-1]
    return sorted({int(idx[round(p)]) for p in picks}) or [int(idx[0])]


def robust_mean(embeddings: np.ndarray) -> tuple[np.ndarray, int]:
    """Mean of the embeddings close to their median (outliers: blur, occlusion); and the index
    of the one nearest that mean."""
    median = np.median(embeddings, axis=0)
    dist = np.linalg.norm(embeddings - median, axis=1)
    keep = dist <= max(1.5 * float(np.median(dist)), 1e-6)
    mean = embeddings[keep].mean(axis=0)
    return mean.astype(np.float32), int(np.argmin(np.linalg.norm(embeddings - mean, axis=1)))


def empty_lip_track(clip_id: str, fps: float, start: RationalTime, frames: int) -> LipTrack:
    """An all-invalid track (no face): downstream turns it into silence."""
    return LipTrack(
        clip_id=clip_id,
        fps=fps,
        start=start,
        mouth_crops=np.zeros((frames, MOUTH_CROP_SIZE, MOUTH_CROP_SIZE), np.uint8),
        landmarks=np.zeros((frames, 68, 2), np.float32),
        valid=np.zeros(frames, bool),
        face_embedding=np.zeros(EMBEDDING_DIM, np.float32),
        expressions=np.zeros((frames, len(EXPRESSION_FEATURES)), np.float32),
        face_crop=np.zeros((FACE_CROP_SIZE, FACE_CROP_SIZE, 3), np.uint8),
    )


def build_lip_track(
    path: Path,
    start_s: float,
    end_s: float | None,
    *,
    clip_id: str,
    start: RationalTime | None = None,
    params: FrontendParams | None = None,
    models: FaceModels | None = None,
    best_effort: bool = False,
    info: VideoInfo | None = None,
) -> Job[PreparedLipTrack]:
    """Job: the LipTrack of `path` between `start_s` and `end_s` (seconds into the file).

    No face anywhere raises NoFaceError naming the clip, or with `best_effort` gives an
    all-invalid track and a warning. `info` saves probing the file again when the caller has.
    """
    params = params or FrontendParams()
    models = models or shared_face_models()
    info = info or probe_video(path)
    if info.duration_s > 0:
        end = info.duration_s if end_s is None else min(end_s, info.duration_s)
    else:  # length unknown to the container: decode until the stream ends
        end = end_s if end_s is not None else 24 * 3600.0
    expected = count_output_frames(start_s, end, params.fps)
    if expected <= 0:
        raise VideoReadError(path, f"clip '{clip_id}': empty range {start_s:.3f}-{end:.3f} s")
    start = start if start is not None else RationalTime(round(start_s * params.fps), params.fps)

    tracker = FaceTracker(models, params.detect_every)
    frames = 0
    for frame in iter_frames(path, start_s, end, params.fps):
        tracker.update(frame.index, frame.gray)
        frames = frame.index + 1
        if frames % PROGRESS_EVERY == 0:
            yield Progress("faces", frames, expected, clip_id)
    if frames == 0:
        raise VideoReadError(path, f"clip '{clip_id}': no frame decodes in the range")
    notes = [] if frames >= expected else [f"video ends early: {frames} of {expected} frames"]

    speaker = pick_speaker(tracker.tracks, frames, models.mean_shape, params.face)
    if speaker is None:
        if not best_effort:
            raise NoFaceError(clip_id)
        log.warning("clip '%s': no face found; the track is all invalid", clip_id)
        track = empty_lip_track(clip_id, params.fps, start, frames)
        return PreparedLipTrack(track, -1, 0, [*notes, "no face found"])
    raw = speaker.landmarks(frames)
    found = ~np.isnan(raw[:, 0, 0])
    landmarks, valid = fill_gaps(raw, round(params.max_gap_s * params.fps))
    if not valid.all():
        notes.append(f"no face on {int((~valid).sum())} of {frames} frames (marked invalid)")
    reference = reference_landmarks(models.mean_shape)
    transforms = mouth_crop_transforms(landmarks, valid, reference, params.smooth_window)

    crops = np.zeros((frames, MOUTH_CROP_SIZE, MOUTH_CROP_SIZE), np.uint8)
    embed_at = _embedding_frames(found, params.embed_frames)
    embeddings, faces = [], []
    for frame in iter_frames(path, start_s, end, params.fps, rgb_indices=embed_at):
        t = frame.index
        if t >= frames:
            break
        if valid[t]:
            crops[t] = warp_mouth(frame.gray, transforms[t])
        if frame.rgb is not None and t in embed_at:
            embeddings.append(models.embed(frame.rgb, landmarks[t]))
            faces.append((t, warp_face(frame.rgb, face_crop_transform(landmarks[t], reference))))
        if (t + 1) % PROGRESS_EVERY == 0:
            yield Progress("mouth crops", t + 1, frames, clip_id)
    if not embeddings:
        raise VideoReadError(path, f"clip '{clip_id}': frames changed between decoding passes")
    identity, nearest = robust_mean(np.stack(embeddings))
    expressions = np.zeros((frames, len(EXPRESSION_FEATURES)), np.float32)
    expressions[valid] = expression_features(landmarks[valid], models.mean_shape)
    track = LipTrack(
        clip_id=clip_id,
        fps=params.fps,
        start=start,
        mouth_crops=crops,
        landmarks=landmarks,
        valid=valid,
        face_embedding=identity,
        expressions=expressions,
        face_crop=faces[nearest][1],
    )
    seen = sum(1 for t in tracker.tracks if t.points)
    del tracker  # its per-frame points and the decoders' frames: freed before generation
    release_free_heap()
    return PreparedLipTrack(track, faces[nearest][0], seen, notes, int(found.sum()))
