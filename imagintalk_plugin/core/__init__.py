"""Core types, errors and the progress/cancel protocol; imports nothing heavy.

Names are loaded on first use (PEP 562), so `from imagintalk_plugin.core.errors import ...`
in the command line's start-up path does not pull in numpy or OpenTimelineIO.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "ClipRef": "clips",
    "PlacedAudio": "clips",
    "AudioFileError": "errors",
    "CancelledError": "errors",
    "ImagintalkError": "errors",
    "MediaOfflineError": "errors",
    "ModelLoadError": "errors",
    "NoFaceError": "errors",
    "VideoReadError": "errors",
    "OutputExistsError": "errors",
    "TimelineReadError": "errors",
    "TimelineWriteError": "errors",
    "UnknownClipError": "errors",
    "UnsupportedTimelineFormatError": "errors",
    "UsageError": "errors",
    "CancelToken": "progress",
    "Job": "progress",
    "Progress": "progress",
    "drive": "progress",
    "EMOTIONS": "signals",
    "LipTrack": "signals",
    "ProsodyCurves": "signals",
    "StyleVector": "signals",
    "TokenSequence": "signals",
    "Waveform": "signals",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'imagintalk_plugin.core' has no attribute '{name}'")
    return getattr(importlib.import_module(f"imagintalk_plugin.core.{_HOMES[name]}"), name)
