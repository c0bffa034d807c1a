"""Where the synthetic speakers' faces come from: real photos and video frames, aligned.

A face source is an image file or a video in the user's folder (default: scikit-image's
astronaut photo, a real portrait that ships with the package). The face is found with the
project's own front-end models (dlib HOG detector + 68-point predictor), aligned by a
similarity transform that puts the eyes at fixed places in a FRAME_SIZE square, and its
landmarks placed again on the aligned image. From a video the most neutral frame is taken
(mouth closest to closed, eyes open).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from imagintalk_plugin.core.errors import NoFaceError, UsageError, VideoReadError
from imagintalk_plugin.frontend.decoding import iter_frames
from imagintalk_plugin.frontend.face_models import FaceModels, shared_face_models
from imagintalk_plugin.frontend.video_probe import probe_video
from imagintalk_plugin.synth.face_rig import FRAME_SIZE

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".mpg", ".mpeg", ".webm", ".mxf", ".m4v"}
EYE_LEFT, EYE_RIGHT = (0.385, 0.40), (0.615, 0.40)  # eye centres as fractions of the frame
_VIDEO_SAMPLES = 12


@dataclass(frozen=True, eq=False)
class AlignedFace:
    """A face photo aligned to FRAME_SIZE x FRAME_SIZE (RGB uint8) with its 68 landmarks."""

    name: str
    image: np.ndarray
    landmarks: np.ndarray  # (68, 2) float32


def _largest_face(models: FaceModels, rgb: np.ndarray) -> np.ndarray | None:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, 400.0 / min(gray.shape))
    boxes = models.detect(gray, scale) or models.detect(gray, min(1.0, 2 * scale))
    if not boxes:
        return None
    return models.landmarks(gray, max(boxes, key=lambda b: b.size * b.score))


def align_face(models: FaceModels, rgb: np.ndarray, name: str) -> AlignedFace:
    """Crop and rotate the largest face in `rgb` to the standard frame; NoFaceError if none."""
    points = _largest_face(models, rgb)
    if points is None:
        raise NoFaceError(name, "no face found in the image")
    src = np.array([points[36:42].mean(0), points[42:48].mean(0)], np.float64)
    dst = np.array([EYE_LEFT, EYE_RIGHT], np.float64) * FRAME_SIZE
    matrix = _similarity(src, dst)
    image = cv2.warpAffine(
        rgb, matrix, (FRAME_SIZE, FRAME_SIZE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT
    )
    moved = points @ matrix[:, :2].T + matrix[:, 2]
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    refined = models.landmarks(gray, models.box_from_landmarks(moved.astype(np.float32)))
    return AlignedFace(name, image, refined.astype(np.float32))


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 similarity taking two points onto two points."""
    vs, vd = src[1] - src[0], dst[1] - dst[0]
    scale = np.linalg.norm(vd) / np.linalg.norm(vs)
    angle = np.arctan2(vd[1], vd[0]) - np.arctan2(vs[1], vs[0])
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return np.hstack([rot, (dst[0] - rot @ src[0])[:, None]])


def _neutrality(points: np.ndarray) -> float:
    """Lower is more neutral: mouth opening minus eye opening, in units of the eye distance."""
    eyes = np.linalg.norm(points[42:48].mean(0) - points[36:42].mean(0))
    mouth = np.mean(points[[65, 66, 67], 1] - points[[63, 62, 61], 1])
    eye_open = np.mean(points[[41, 40, 47, 46], 1] - points[[37, 38, 43, 44], 1])
    return float((mouth - 0.5 * eye_open) / eyes)


def _video_face(models: FaceModels, path: Path) -> AlignedFace:
    info = probe_video(path)
    times = np.linspace(0.0, max(info.duration_s - 0.1, 0.0), _VIDEO_SAMPLES)
    best: tuple[float, np.ndarray] | None = None
    for t in times:
        frame = next(iter(iter_frames(path, float(t), float(t) + 0.08, rgb_indices=(0,))), None)
        if frame is None or frame.rgb is None:
            continue
        points = _largest_face(models, frame.rgb)
        if points is not None and (best is None or _neutrality(points) < best[0]):
            best = (_neutrality(points), frame.rgb)
    if best is None:
        raise NoFaceError(path.name, "no face found in the sampled frames")
    return align_face(models, best[1], path.stem)


def _read_image(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UsageError(f"cannot read image '{path}'")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def default_faces() -> list[tuple[str, np.ndarray]]:
    """Real portraits that ship with installed packages: scikit-image's astronaut photo."""
    from skimage import data

    return [("astronaut", data.astronaut())]


def face_files(folder: Path) -> list[Path]:
    """Image and video files in `folder`, sorted by name (a stable order for seeding)."""
    if not folder.is_dir():
        raise UsageError(f"faces folder '{folder}' does not exist")
    files = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
    )
    if not files:
        raise UsageError(f"faces folder '{folder}' holds no images or videos")
    return files


def load_faces(folder: Path | None, models: FaceModels | None = None) -> Iterator[AlignedFace]:
    """Aligned faces from every usable file in `folder` (or the defaults), in name order.

    Files without a face (or that cannot be decoded) are skipped; a folder with no usable
    face at all is an error.
    """
    models = models or shared_face_models()
    if folder is None:
        for name, rgb in default_faces():
            yield align_face(models, rgb, name)
        return
    found = 0
    for path in face_files(folder):
        try:
            if path.suffix.lower() in VIDEO_SUFFIXES:
                yield _video_face(models, path)
            else:
                yield align_face(models, _read_image(path), path.stem)
            found += 1
        except (NoFaceError, VideoReadError):
            continue
    if not found:
        raise UsageError(f"no face found in any file of '{folder}'")
