"""The pretrained face models: dlib's HOG face detector, 68-point predictor and face ResNet.

The weights come from the `face_recognition_models` registry package (the iBUG 300-W 68-point
shape predictor and dlib's face-recognition ResNet, 128-d embeddings); the HOG frontal-face
detector is built into dlib. Nothing is downloaded. The package's own `__init__` needs
`pkg_resources`, which new setuptools no longer ships, so its folder is located without
importing it.

The mean face used for alignment is read from the shape predictor file itself: dlib stores the
predictor's initial shape (the mean of its training faces, in detector-box units) first.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.core.heap import release_free_heap

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"
EMBEDDING_DIM = 128


def models_dir() -> Path:
    """Folder holding the dlib model files of the `face_recognition_models` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "face_recognition_models", "package not installed (bash scripts/install.sh)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not (folder / PREDICTOR_FILE).is_file():
        raise ModelLoadError(folder / PREDICTOR_FILE, "file missing from face_recognition_models")
    return folder


def _read_dlib_int(data: bytes, pos: int) -> tuple[int, int]:
    """One integer in dlib's serialisation: a byte (length | 0x80 if negative), then LE bytes."""
    head = data[pos]
    size = head & 0x0F
    value = int.from_bytes(data[pos + 1 : pos + 1 + size], "little")
    return (-value if head & 0x80 else value), pos + 1 + size


@cache
def read_mean_shape(predictor_path: Path) -> np.ndarray:
    """The predictor's initial shape (68, 2): its mean face, in units of the detector's box."""
    with predictor_path.open("rb") as file:
        data = file.read(4096)  # the header alone: the file is 100 MB
    try:
        version, pos = _read_dlib_int(data, 0)
        rows, pos = _read_dlib_int(data, pos)
        cols, pos = _read_dlib_int(data, pos)
        if version != 1 or abs(rows) != 136 or abs(cols) != 1:
            raise ValueError(f"unexpected header {version}, {rows}x{cols}")
        values = []
        for _ in range(136):
            mantissa, pos = _read_dlib_int(data, pos)
            exponent, pos = _read_dlib_int(data, pos)
            values.append(mantissa * 2.0**exponent)
    except (IndexError, ValueError) as exc:
        raise ModelLoadError(
            predictor_path, f"not a dlib 68-point shape predictor ({exc})"
        ) from exc
    shape = np.asarray(values, np.float64).reshape(68, 2)
    shape.setflags(write=False)
    return shape


@dataclass(frozen=True)
class FaceBox:
    """A face rectangle in image pixels (detector convention) with the detector's score."""

    left: float
    top: float
    right: float
    bottom: float
    score: float = 0.0

    @property
    def size(self) -> float:
        """Side length (the detector's boxes are square)."""
        return 0.5 * ((self.right - self.left) + (self.bottom - self.top))

    def iou(self, other: FaceBox) -> float:
        """Intersection over union with another box."""
        w = min(self.right, other.right) - max(self.left, other.left)
        h = min(self.bottom, other.bottom) - max(self.top, other.top)
        if w <= 0 or h <= 0:
            return 0.0
        inter = w * h
        area = (self.right - self.left) * (self.bottom - self.top)
        other_area = (other.right - other.left) * (other.bottom - other.top)
        return inter / (area + other_area - inter)


class FaceModels:
    """Loaded dlib models: detect faces, place 68 landmarks, embed a face's identity."""

    def __init__(self, folder: Path | None = None) -> None:
        import dlib

        self._dlib = dlib
        self.folder = folder or models_dir()
        predictor_path = self.folder / PREDICTOR_FILE
        try:
            self._detector = dlib.get_frontal_face_detector()
            self._predictor = dlib.shape_predictor(str(predictor_path))
        except RuntimeError as exc:
            raise ModelLoadError(predictor_path, str(exc)) from exc
        self.mean_shape = read_mean_shape(predictor_path)
        self._recognizer: Any = None

    def with_own_detector(self) -> FaceModels:
        """These models with a face detector of their own, for another thread: a dlib detector
        keeps scratch state while it runs (without the GIL), so two threads cannot share one.
        Copying its configuration through pickle takes about 2 ms; building a new one takes
        about 300 ms holding the GIL. Predictor and recognizer are shared."""
        import copy
        import pickle

        twin = copy.copy(self)
        twin._detector = pickle.loads(pickle.dumps(self._detector))
        return twin

    def detect(self, gray: np.ndarray, scale: float = 1.0) -> list[FaceBox]:
        """Frontal faces in a grayscale image, searched on a copy resized by `scale`."""
        import cv2

        image = gray
        if scale != 1.0:
            size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
            image = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._detector.run(image, 0, 0.0)
        return [
            FaceBox(r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale, s)
            for r, s in zip(rects, scores, strict=True)
        ]

    def landmarks(self, gray: np.ndarray, box: FaceBox) -> np.ndarray:
        """The 68 iBUG landmarks (68, 2) float32 for the face in `box`."""
        rect = self._dlib.rectangle(
            round(box.left), round(box.top), round(box.right), round(box.bottom)
        )
        shape = self._predictor(gray, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)

    def box_from_landmarks(self, points: np.ndarray) -> FaceBox:
        """The detector-style box these landmarks imply (least-squares fit of the mean face).

        Tracking feeds this box to the predictor on the next frame, so it must follow the
        detector's convention the predictor was trained with, not the landmarks' extent.
        """
        mean = self.mean_shape
        centred_mean = mean - mean.mean(0)
        centred = points - points.mean(0)
        size = float((centred_mean * centred).sum() / (centred_mean**2).sum())
        left, top = points.mean(0) - size * mean.mean(0)
        return FaceBox(float(left), float(top), float(left + size), float(top + size))

    def embed(self, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The 128-d identity embedding (unit-ish length) of the face with these landmarks
        (through the embedder `route_embeddings` set, such as the panel's helper process)."""
        if _remote_embedder is not None:
            return _remote_embedder(self.folder, np.ascontiguousarray(rgb), points)
        return self.compute_descriptor(rgb, points)

    def compute_descriptor(self, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        """`embed` in this process: dlib's face ResNet, holding the GIL throughout."""
        if self._recognizer is None:
            path = self.folder / RECOGNITION_FILE
            try:
                self._recognizer = self._dlib.face_recognition_model_v1(str(path))
            except RuntimeError as exc:
                raise ModelLoadError(path, str(exc)) from exc
        box = self.box_from_landmarks(points)
        rect = self._dlib.rectangle(
            round(box.left), round(box.top), round(box.right), round(box.bottom)
        )
        parts = [self._dlib.point(round(float(x)), round(float(y))) for x, y in points]
        shape = self._dlib.full_object_detection(rect, parts)
        image = np.ascontiguousarray(rgb)
        return np.asarray(self._recognizer.compute_face_descriptor(image, shape), np.float32)


RemoteEmbedder = Callable[[Path, np.ndarray, np.ndarray], np.ndarray]
_remote_embedder: RemoteEmbedder | None = None


def route_embeddings(embedder: RemoteEmbedder | None) -> None:
    """From now on `FaceModels.embed` calls `embedder(folder, rgb, points)` (for example in a
    helper process, `face_embedding_process`), or computes in this process again with None."""
    global _remote_embedder
    _remote_embedder = embedder


@cache
def shared_face_models() -> FaceModels:
    """One FaceModels per process (loading the predictor takes about a second)."""
    return FaceModels()


def release_shared_face_models() -> None:
    """Drop the process's shared FaceModels (about 100 MB resident: dlib's 68-point predictor
    and face ResNet) once no more clips are to be prepared, so a long generation does not
    carry them; the next `shared_face_models()` loads them again (about 0.6 s)."""
    shared_face_models.cache_clear()
    release_free_heap()
