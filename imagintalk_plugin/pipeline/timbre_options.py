"""A timbre from outside the clip (`--voice WAV`, `--face VIDEO` on the command line).

By default every take's timbre comes from its own clip's face. An editor can instead give a
reference recording (its Resemblyzer embedding drives the face-style adapter's voice branch)
or a video of another face (`voice_overrides_io.video_face_embedding`: its dlib identity, read
by the front-end from the video's first FACE_SAMPLE_S seconds through the LipTrack cache). The
two are exclusive; either one is recorded in every take's metadata, so a rerun with another
timbre never reuses old takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.pipeline.voice_overrides_io import (
    check_reference_audio,
    reference_voice_embedding,
    video_face_embedding,
)


@dataclass(frozen=True, eq=False)
class Timbre:
    """What replaces the clip's own face as the timbre (both None: the clip's face)."""

    face: np.ndarray | None = None  # (128,) identity of another face
    reference_voice: np.ndarray | None = None  # (256,) speaker embedding of a recording
    record: tuple[tuple[str, str], ...] = (("source", "face"),)  # for the take's metadata


def check_timbre(voice: Path | None, face: Path | None) -> None:
    """Fail fast, before any model loads, on a missing or unusable reference recording or face
    video."""
    if voice is not None:
        check_reference_audio(voice)  # AudioFileError, one line
    if face is not None and not Path(face).is_file():
        raise UsageError(f"face video '{face}' does not exist")


def timbre_job(voice: Path | None, face: Path | None) -> Job[Timbre]:
    """Job: the Timbre from a reference recording or another face's video (runs the front-end
    for a face); the clip's own face when both are None."""
    if voice is not None:
        yield Progress("reference voice", 0, 1, message=Path(voice).name)
        embedding = reference_voice_embedding(voice)
        yield Progress("reference voice", 1, 1, message=Path(voice).name)
        record = (("source", "reference audio"), ("path", str(Path(voice).resolve())))
        return Timbre(reference_voice=embedding, record=record)
    if face is not None:
        identity = yield from video_face_embedding(Path(face))
        record = (("source", "face video"), ("path", str(Path(face).resolve())))
        return Timbre(face=identity, record=record)
    return Timbre()
