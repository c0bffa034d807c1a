"""Writing user-visible files so that nobody ever sees half of one."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from imagintalk_plugin.core.errors import OutputBusyError

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


@contextlib.contextmanager
def exclusive_lock(path: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock file at `path` for the block; `OutputBusyError` at once when
    another process holds it.

    An OS lock (flock), so a killed run never leaves a lock that blocks the next one; the file
    is removed on exit. After locking, the path is checked to still be the locked file (a
    holder that finished may have removed it), else the lock is taken again.
    """
    import fcntl
    import os

    path = Path(path)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise OutputBusyError(path, holder) from None
        try:
            same = os.fstat(fd).st_ino == path.stat().st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)


def check_writable_folder(folder: str | Path) -> str | None:
    """Why files cannot be written into `folder` (None when they can): it is missing, not a
    folder, or creating a file there fails (read-only, no permission). Tried for real with a
    hidden temporary file, which is removed; permission bits alone say nothing for root."""
    folder = Path(folder)
    if not folder.exists():
        return f"folder '{folder}' does not exist"
    if not folder.is_dir():
        return f"'{folder}' is not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".imagintalk-probe-"):
            pass
    except OSError as err:
        return f"cannot write into '{folder}': {err.strerror or err}"
    return None
