"""Timbre overrides from outside the clip: a reference voice file, another clip's face (no Qt).

`VoiceOverrides` takes either a 256-d speaker embedding (`reference_voice`) or another 128-d
face identity (`face`) in place of the clip's own face. These helpers make them:

- `check_reference_audio(path)`: a header-only check (fast enough for the GUI thread, when an
  editor picks the file) that the file is a readable WAV with at least MIN_REFERENCE_S of
  audio; a one-line `AudioFileError` otherwise.
- `reference_voice_embedding(path)`: the file's unit-length Resemblyzer (GE2E) embedding, made
  with the same `SpeakerEncoder` and preprocessing that produced the face-style adapter's voice
  targets in training (`train_dit`) and that the speaker judge uses, so the override lives in
  the space the adapter's voice branch learned. Loads torch: worker side only. Embeddings are
  kept per file identity (path, size, mtime), so regenerating a take does not embed again.
- `clip_face_embedding(clip)`: a job giving the face identity of another timeline clip, read
  by the front-end through the LipTrack cache (the same embedding its own takes would use);
  `video_face_embedding(path)` the same for a video file's first FACE_SAMPLE_S seconds.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.errors import AudioFileError
from imagintalk_plugin.core.progress import Job

if TYPE_CHECKING:
    from imagintalk_plugin.audio import SpeakerEncoder
    from imagintalk_plugin.frontend.cache import LipTrackCache

FACE_SAMPLE_S = 10.0  # seconds of a face video read for its identity
MIN_REFERENCE_S = 1.0  # shorter clips give the encoder too little voice to go on
REFERENCE_DIM = 256  # Resemblyzer's embedding size (`FaceStyleConfig.speaker_dim`)
_LOCK = threading.Lock()
_EMBEDDINGS: dict[tuple[str, int, int], np.ndarray] = {}


def check_reference_audio(path: str | Path) -> float:
    """The reference file's length in seconds; `AudioFileError` (one line) if it cannot serve."""
    from imagintalk_plugin.timeline.bwf import read_wav_info

    path = Path(path)
    if path.is_dir():
        raise AudioFileError(path, "is a folder, not an audio file")
    info = read_wav_info(path)  # missing, not a WAV, unsupported encoding: AudioFileError
    seconds = info.duration_seconds
    if seconds < MIN_REFERENCE_S:
        raise AudioFileError(
            path, f"too short ({seconds:.2f} s); a reference voice needs {MIN_REFERENCE_S:g} s"
        )
    return seconds


@cache
def _shared_encoder() -> SpeakerEncoder:
    from imagintalk_plugin.audio import SpeakerEncoder

    return SpeakerEncoder()


def reference_voice_embedding(
    path: str | Path, encoder: SpeakerEncoder | None = None
) -> np.ndarray:
    """(256,) float32 speaker embedding of a reference WAV (any rate; mixed to mono, 16 kHz)."""
    from imagintalk_plugin.audio import load_audio

    path = Path(path)
    check_reference_audio(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _LOCK:
        if key in _EMBEDDINGS:
            return _EMBEDDINGS[key]
    samples = load_audio(path)
    if not np.any(np.abs(samples) > 1e-4):
        raise AudioFileError(path, "is silent; a reference voice needs speech")
    embedding = np.asarray((encoder or _shared_encoder()).embed(samples), np.float32)
    if embedding.shape != (REFERENCE_DIM,) or not np.all(np.isfinite(embedding)):
        raise AudioFileError(path, f"the voice encoder gave no usable embedding {embedding.shape}")
    with _LOCK:
        _EMBEDDINGS[key] = embedding
    return embedding


def clip_face_embedding(clip: ClipRef, cache: LipTrackCache | None = None) -> Job[np.ndarray]:
    """Job: (128,) float32 face identity of a timeline clip (its LipTrack's, through the cache).

    Offline media raises `MediaOfflineError` and a clip without a face `NoFaceError`, both
    naming the clip.
    """
    from imagintalk_plugin.frontend.prepare import prepare_clip

    prepared = yield from prepare_clip(clip, cache=cache)
    return np.asarray(prepared.track.face_embedding, np.float32)


def video_face_embedding(path: Path) -> Job[np.ndarray]:
    """Job: (128,) float32 identity of the face in a video's first FACE_SAMPLE_S seconds.

    An unreadable video raises `VideoReadError` and one without a face `NoFaceError`, both
    naming the file.
    """
    from imagintalk_plugin.frontend.decoding import probe_video
    from imagintalk_plugin.frontend.prepare import prepare_range

    info = probe_video(path)
    end = min(info.duration_s, FACE_SAMPLE_S) if info.duration_s > 0 else FACE_SAMPLE_S
    prepared = yield from prepare_range(path, 0.0, end, clip_id=path.name, info=info)
    return np.asarray(prepared.track.face_embedding, np.float32)
