"""Core types, errors and the progress/cancel protocol; imports nothing heavy."""

from imagintalk_plugin.core.clips import ClipRef, PlacedAudio
from imagintalk_plugin.core.errors import (
    AudioFileError,
    CancelledError,
    ImagintalkError,
    MediaOfflineError,
    ModelLoadError,
    OutputExistsError,
    TimelineReadError,
    TimelineWriteError,
    UnknownClipError,
    UnsupportedTimelineFormatError,
    UsageError,
)
from imagintalk_plugin.core.progress import CancelToken, Job, Progress, drive
from imagintalk_plugin.core.signals import (
    EMOTIONS,
    LipTrack,
    ProsodyCurves,
    StyleVector,
    TokenSequence,
    Waveform,
)

__all__ = [
    "EMOTIONS",
    "AudioFileError",
    "CancelToken",
    "CancelledError",
    "ClipRef",
    "ImagintalkError",
    "Job",
    "LipTrack",
    "MediaOfflineError",
    "ModelLoadError",
    "OutputExistsError",
    "PlacedAudio",
    "Progress",
    "ProsodyCurves",
    "StyleVector",
    "TimelineReadError",
    "TimelineWriteError",
    "TokenSequence",
    "UnknownClipError",
    "UnsupportedTimelineFormatError",
    "UsageError",
    "Waveform",
    "drive",
]
