"""One error type per user-facing failure.

Every error the user can cause derives from `ImagintalkError`; its `str()` is a single line
naming the file and what is wrong, and `exit_code` is what the command line returns. Anything
that is not an `ImagintalkError` is a bug and gets a traceback.
"""

from __future__ import annotations

from pathlib import Path


class ImagintalkError(Exception):
    """Base of all user-facing errors: one-line message, a command-line exit status."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # always one line


class UsageError(ImagintalkError):
    """Bad command-line arguments or settings."""

    exit_code = 2


class TimelineReadError(ImagintalkError):
    """A timeline file cannot be read: missing, unreadable, truncated, malformed or unsupported."""

    exit_code = 2

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read timeline '{path}': {reason}")


class UnsupportedTimelineFormatError(TimelineReadError):
    """The file's format is not one ImaginTalk reads."""


class TimelineWriteError(ImagintalkError):
    """A timeline cannot be written in the requested format."""

    exit_code = 2

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        super().__init__(f"cannot write timeline '{path}': {reason}")


class OutputExistsError(ImagintalkError):
    """An output path exists and overwriting was not asked for."""

    exit_code = 2

    def __init__(self, path: str | Path, hint: str = "use --force to overwrite") -> None:
        self.path = str(path)
        super().__init__(f"output '{path}' already exists ({hint})")


class OutputBusyError(ImagintalkError):
    """Another run holds the lock of an output (two runs must not write one output)."""

    exit_code = 2

    def __init__(self, lock: str | Path, holder: str = "") -> None:
        self.path = str(lock)
        who = f" (pid {holder})" if holder.isdigit() else ""
        super().__init__(
            f"another imagintalk run{who} is writing this output (lock '{lock}'); wait for it "
            "to finish or choose another output"
        )


class UnknownClipError(ImagintalkError):
    """A clip id given by the user is not on the timeline."""

    exit_code = 2

    def __init__(self, clip_id: str, known: list[str]) -> None:
        shown = ", ".join(known[:8]) + (" ..." if len(known) > 8 else "")
        super().__init__(f"no clip '{clip_id}' on the timeline (clips: {shown or 'none'})")


class AudioFileError(ImagintalkError):
    """An audio file cannot be read or written."""

    exit_code = 2

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        super().__init__(f"cannot use audio '{path}': {reason}")


class MediaOfflineError(ImagintalkError):
    """A clip's media file is missing, so the clip cannot be processed."""

    exit_code = 3

    def __init__(self, clip_name: str, media_path: str | None) -> None:
        super().__init__(f"clip '{clip_name}' is offline: media '{media_path}' not found")


class VideoReadError(ImagintalkError):
    """A video cannot be used: missing, undecodable, truncated, or the range holds no frames."""

    exit_code = 2

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read video '{path}': {reason}")


class NoFaceError(ImagintalkError):
    """No usable face was found anywhere in a clip's range."""

    exit_code = 4

    def __init__(self, clip: str, reason: str = "no face found in any frame") -> None:
        self.clip = clip
        super().__init__(f"clip '{clip}': {reason}")


class ManifestError(ImagintalkError):
    """A corpus manifest (manifest.jsonl) is missing, malformed, or names missing files."""

    exit_code = 2

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        super().__init__(f"cannot use manifest '{path}': {reason}")


class ModelLoadError(ImagintalkError):
    """A checkpoint is missing, corrupt or does not match the code's configuration."""

    exit_code = 3

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        super().__init__(f"cannot load model '{path}': {reason}")


class CancelledError(ImagintalkError):
    """The user cancelled a running job; what finished before is kept, nothing partial."""

    exit_code = 130

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class CorpusSourceError(ImagintalkError):
    """A corpus to import is missing or holds no clips in the layout asked for."""

    exit_code = 2

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        super().__init__(f"cannot import corpus '{path}': {reason}")
