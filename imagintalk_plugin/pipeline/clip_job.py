"""One clip's job, the same for `imagintalk dub`, `imagintalk speak` and the panel's worker.

A take is made in three steps: the timbre is resolved when it does not come from the clip's
own face (another clip's face, read by the front-end, or a reference recording), the clip's lips
and face are read (the front-end, through the LipTrack cache) unless they are already known,
and the speech is generated (`speech.speak_track`).

- The panel's worker runs `clip_job` whole, one take at a time.
- `dub` reads each clip with `read_clip` and gives each take its seed with `with_seed`, then
  generates a batch of clips' takes together (`speech.speak_tracks`, same takes, sooner).
- `speak` runs `speak_range` on a range of a video file.

`speech_settings` builds one take's `SpeechSettings` from plain values: the CLI's options and
the panel's style controls go through it alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.errors import ImagintalkError, UsageError
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.frontend.decoding import VideoInfo
from imagintalk_plugin.frontend.face_models import release_shared_face_models
from imagintalk_plugin.frontend.prepare import prepare_clip, prepare_range
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings
from imagintalk_plugin.pipeline.dub_models import DubModels
from imagintalk_plugin.pipeline.speech import ClipSpeech, SpeechSettings, speak_track
from imagintalk_plugin.pipeline.voice_generation import VoiceOverrides
from imagintalk_plugin.pipeline.voice_overrides_io import (
    clip_face_embedding,
    reference_voice_embedding,
)
from imagintalk_plugin.runtime.stages import Stages

OWN_FACE = (("source", "face"),)  # the timbre record of a take voiced from its own face


def speech_settings(
    *,
    steps: int | None = None,
    guidance: float | None = None,
    threshold: float | None = None,
    emotion: str | None = None,
    pitch: float = 0.0,
    speed: float = 1.0,
    seed: int = 0,
    face: np.ndarray | None = None,
    reference_voice: np.ndarray | None = None,
    timbre: Mapping[str, str] | Iterable[tuple[str, str]] = OWN_FACE,
    line: str | None = None,
) -> SpeechSettings:
    """One take's `SpeechSettings` from plain values; a bad value is a one-line `UsageError`.

    `steps` and `guidance` (None: the sampler's defaults, 16 and 2) drive the Style-DiT's
    sampler; `threshold` None uses the checkpoint's calibrated detector threshold; `emotion`
    None takes it from the face; `pitch` is in semitones, `speed` a factor. `face` (another
    face's 128-d identity) or `reference_voice` (a 256-d speaker embedding) replace the clip's
    own face as the timbre, and `timbre` says where it came from for the take's metadata
    (`{"source": "reference audio", "path": ...}`; the clip's own face by default). `line` is
    the known line the take says (ADR; None or blank: the words read from the lips).
    """
    try:
        sampler = SamplerSettings()
        if steps is not None:
            sampler = replace(sampler, steps=steps)
        if guidance is not None:
            sampler = replace(sampler, guidance=guidance)
        overrides = VoiceOverrides(
            reference_voice=reference_voice,
            face=face,
            emotion=emotion,
            pitch_offset_semitones=pitch,
            speed_factor=speed,
            seed=seed,
        )
        record = tuple(dict(timbre).items())
        line = " ".join(line.split()) if line else None
        return SpeechSettings(
            threshold=threshold,
            sampler=sampler,
            overrides=overrides,
            timbre=record,
            line=line or None,
        )
    except ValueError as err:
        raise UsageError(str(err)) from err


def with_seed(settings: SpeechSettings, seed: int) -> SpeechSettings:
    """The same settings with another seed (take k of `dub` uses seed + k - 1)."""
    return replace(settings, overrides=replace(settings.overrides, seed=seed))


@dataclass(frozen=True)
class TimbreSource:
    """Where a take's timbre comes from instead of the clip's own face (all None: its own).

    At most one of the two: another clip's face (`face_clip`; its lips and face `face_track`
    when already read, else the front-end reads them) or a reference recording.
    """

    face_clip: ClipRef | None = None
    face_track: LipTrack | None = None
    reference_audio: Path | None = None


def resolve_timbre(
    clip_id: str, source: TimbreSource | None, cache: LipTrackCache | None = None
) -> Job[tuple[np.ndarray | None, np.ndarray | None]]:
    """Job: (face, reference_voice) for clip `clip_id`'s take; (None, None) for its own face.

    Reading another clip's face reports its front-end steps as `clip_id`'s (the clip running),
    and an error there names both clips.
    """
    if source is None:
        return None, None
    if source.reference_audio is not None:
        yield Progress("reference voice", 0, 1, clip_id)
        return None, reference_voice_embedding(source.reference_audio)
    if source.face_track is not None:
        return np.asarray(source.face_track.face_embedding, np.float32), None
    other = source.face_clip
    if other is None:
        return None, None
    steps = clip_face_embedding(other, cache)
    try:  # its front-end steps count as this clip's
        while True:
            step = next(steps)
            yield replace(step, clip_id=clip_id, message=f"face of {other.clip_id}")
    except StopIteration as done:
        return done.value, None
    except ImagintalkError as err:  # say whose face it was: the clip running is another
        raise UsageError(f"timbre from {other.clip_id}'s face: {err}") from err


def read_clip(
    clip: ClipRef, cache: LipTrackCache | None = None, track: LipTrack | None = None
) -> Job[LipTrack]:
    """Job: a timeline clip's lips and face (front-end, through the cache); `track` when the
    caller already has them (a regenerated take skips the front-end)."""
    if track is not None:
        return track
    prepared = yield from prepare_clip(clip, cache=cache)
    return prepared.track


@dataclass(frozen=True, eq=False)
class ClipTake:
    """What one clip job made: the lips and face it read and the take's speech."""

    track: LipTrack
    speech: ClipSpeech


def clip_job(
    models: DubModels,
    stages: Stages,
    clip: ClipRef,
    settings: SpeechSettings,
    *,
    timbre: TimbreSource | None = None,
    track: LipTrack | None = None,
    cache: LipTrackCache | None = None,
    batch_size: int = 1,
) -> Job[ClipTake]:
    """Job: one take of a timeline clip: its timbre first (`resolve_timbre`), then its lips
    and face unless `track` carries them (`read_clip`), then the speech with `settings` (a
    resolved timbre replaces their face / reference voice; their timbre record is kept)."""
    face, voice = yield from resolve_timbre(clip.clip_id, timbre, cache)
    if face is not None or voice is not None:
        overrides = replace(settings.overrides, face=face, reference_voice=voice)
        settings = replace(settings, overrides=overrides)
    track = yield from read_clip(clip, cache, track)
    speech = yield from speak_track(models, stages, track, settings, batch_size)
    return ClipTake(track, speech)


def speak_range(
    models: DubModels,
    stages: Stages,
    video: Path,
    settings: SpeechSettings,
    start_s: float = 0.0,
    end_s: float | None = None,
    *,
    info: VideoInfo | None = None,
    batch_size: int = 1,
) -> Job[ClipSpeech]:
    """Job: the speech of a range of a video file (`imagintalk speak`): its lips and face
    (front-end, through the cache), then the take; the face models are let go in between."""
    video = Path(video)
    prepared = yield from prepare_range(video, start_s, end_s, clip_id=video.name, info=info)
    release_shared_face_models()  # about 100 MB less while the take is generated
    return (yield from speak_track(models, stages, prepared.track, settings, batch_size))
