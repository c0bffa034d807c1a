"""Writing user-visible files so that nobody ever sees half of one."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

_TMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success move what was written there onto it.

    The temporary file lives in a hidden folder in the same directory (so `os.replace` is an
    atomic rename, and concurrent writers of the same path never share a temporary file) and
    the folder is always removed, whatever happens.
    """
    path = Path(path)
    folder = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TMP_SUFFIX))
    try:
        tmp = folder / path.name
        yield tmp
        tmp.replace(path)  # os.replace: atomic on one filesystem
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_temporaries(folder: str | Path) -> None:
    """Remove the hidden temporary folders `atomic_path` left in `folder` when its process was
    killed before its cleanup could run (a terminated worker, say)."""
    for stale in Path(folder).glob(f".*{_TMP_SUFFIX}"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
