"""dlib's face descriptor in a helper process, for processes with a GUI thread.

`compute_face_descriptor` (dlib's face ResNet) holds the GIL for its whole run: about 100 ms
per face on one core, several times that on a busy CPU. In the panel's process that freezes
the GUI thread while a worker thread reads a clip's faces. After `embed_in_helper_process()`,
`FaceModels.embed` sends the frame and landmarks to one helper process and waits for the
descriptor without the GIL. The helper loads the same models from the same folder, so the
descriptor is the same; it starts on first use (spawned, about a second) and ends with this
process, however this process ends: `stop_helper()` ends it at once (the panel's shutdown), and
a thread in the helper waits on the end of a pipe only the parent holds (multiprocessing's
parent sentinel), so a parent killed by SIGTERM or SIGKILL takes the helper with it, and with
the helper gone multiprocessing's resource tracker sees its own pipe close and ends too.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from imagintalk_plugin.frontend.face_models import FaceModels, route_embeddings

_lock = threading.Lock()
_enabled = False
_pool: ProcessPoolExecutor | None = None


def embed_in_helper_process(enabled: bool = True) -> None:
    """From now on compute face descriptors in a helper process (or, False, in this one)."""
    global _enabled, _pool
    with _lock:
        _enabled = enabled
        route_embeddings(embed_in_helper if enabled else None)
        if not enabled and _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None


def helper_enabled() -> bool:
    """Whether `FaceModels.embed` goes through the helper process."""
    return _enabled


def _helper_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=1, mp_context=get_context("spawn"), initializer=_exit_with_parent
            )
        return _pool


def start_helper() -> int:
    """Start the helper process now rather than on the first face (it takes about a second);
    returns its pid."""
    return int(_helper_pool().submit(os.getpid).result())


def stop_helper() -> None:
    """End the helper process now, waiting for it to exit (a face it is computing is
    finished first); the next descriptor starts a new one while the helper is enabled."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def embed_in_helper(folder: Path, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The 128-d descriptor of the face with these landmarks, computed by the helper process
    (restarted once if it died)."""
    global _pool
    for attempt in (1, 2):
        pool = _helper_pool()
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


def _exit_with_parent() -> None:
    """In the helper: end this process as soon as the parent process is gone, whatever ended
    it (a killed parent never sends the pool's shutdown, and the pool's queue would keep this
    process waiting for ever)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the pipe only the parent holds closes: the parent ended
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _embed(folder: str, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """In the helper: the descriptor with this process's own FaceModels for `folder`."""
    models = _models.get(folder)
    if models is None:
        models = _models[folder] = FaceModels(Path(folder))
    assert isinstance(models, FaceModels)
    return models.compute_descriptor(rgb, points)
