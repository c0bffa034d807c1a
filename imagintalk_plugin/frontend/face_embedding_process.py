"""dlib's face descriptor in a helper process, for processes with a GUI thread.

`compute_face_descriptor` (dlib's face ResNet) holds the GIL for its whole run: about 100 ms
per face on one core, several times that on a busy CPU. In the panel's process that freezes
the GUI thread while a worker thread reads a clip's faces. After `embed_in_helper_process()`,
`FaceModels.embed` sends the frame and landmarks to one helper process and waits for the
descriptor without the GIL. The helper loads the same models from the same folder, so the
descriptor is the same; it starts on first use (spawned, about a second) and ends with this
process.
"""

from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import numpy as np

_lock = threading.Lock()
_enabled = False
_pool: ProcessPoolExecutor | None = None


def embed_in_helper_process(enabled: bool = True) -> None:
    """From now on compute face descriptors in a helper process (or, False, in this one)."""
    global _enabled, _pool
    with _lock:
        _enabled = enabled
        if not enabled and _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None


def helper_enabled() -> bool:
    """Whether `FaceModels.embed` goes through the helper process."""
    return _enabled


def embed_in_helper(folder: Path, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The 128-d descriptor of the face with these landmarks, computed by the helper process
    (restarted once if it died)."""
    global _pool
    for attempt in (1, 2):
        with _lock:
            if _pool is None:
                _pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
            pool = _pool
        try:
            return pool.submit(_embed, str(folder), rgb, points).result()
        except BrokenProcessPool:
            with _lock:
                if _pool is pool:
                    _pool = None
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


_models: dict[str, object] = {}


def _embed(folder: str, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """In the helper: the descriptor with this process's own FaceModels for `folder`."""
    from imagintalk_plugin.frontend.face_models import FaceModels

    models = _models.get(folder)
    if models is None:
        models = _models[folder] = FaceModels(Path(folder))
    assert isinstance(models, FaceModels)
    return models.compute_descriptor(rgb, points)
