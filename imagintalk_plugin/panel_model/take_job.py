"""The panel worker's job: one take of one clip, by the pipeline's clip job (no Qt).

`clip_job` is a plain generator around `pipeline.clip_job.clip_job` (front-end, then
`speak_track`), the job `dub` and `speak` run too; the Qt worker drives it on its own thread and
tests drive it directly. The take's settings come from the clip's style (`speech_settings`):
its line (ADR), and its timbre from its character's cast (`adr.cast_job`), else from the
clip's own choice (its face, another clip's face, a reference recording). Pipeline modules pull
torch, so they are imported inside these functions: the panel opens without loading a model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import Job
from imagintalk_plugin.panel_model.adr import cast_job
from imagintalk_plugin.panel_model.state import ClipRequest, ClipResult, StyleSettings


def speech_settings(
    style: StyleSettings, face: np.ndarray | None = None, reference_voice: np.ndarray | None = None
) -> Any:
    """The pipeline's `SpeechSettings` for a style (imports the pipeline: worker side only).

    Built by `pipeline.clip_job.speech_settings`, as the CLI's options are, with the style's
    line. `face` (another clip's 128-d identity) or `reference_voice` (a 256-d speaker
    embedding) replace the clip's own face as the timbre; `clip_job` resolves them from the
    style.
    """
    from imagintalk_plugin.pipeline import clip_job as pipeline_job

    return pipeline_job.speech_settings(
        steps=style.steps,
        guidance=style.guidance,
        threshold=style.threshold,
        emotion=style.emotion,
        pitch=style.pitch,
        speed=style.speed,
        seed=style.seed,
        face=face,
        reference_voice=reference_voice,
        timbre=timbre_record(style),
        line=style.line,
    )


def timbre_record(style: StyleSettings) -> dict[str, str]:
    """Where a take's timbre came from, for its metadata (and the placed take's sidecar);
    a cast take's record is the cast's (`pipeline.casting`)."""
    if style.timbre_clip is not None:
        return {"source": "clip face", "clip_id": style.timbre_clip}
    if style.reference_audio is not None:
        return {"source": "reference audio", "path": str(style.reference_audio)}
    return {"source": "face"}


def clip_job(request: ClipRequest, models: Any, stages: Any, cache: Any = None) -> Job[ClipResult]:
    """Job: one take of one clip, by the pipeline's clip job (`pipeline.clip_job.clip_job`,
    the one `dub` and `speak` run too); reads lips and face first unless the request carries
    them.

    A cast clip (`request.cast`) speaks in its character's cast voice; otherwise a timbre from
    another clip's face or a reference voice is resolved first. The take's settings record
    either under "timbre".
    """
    from imagintalk_plugin.pipeline import clip_job as pipeline_job

    style = request.style
    settings = speech_settings(style)
    timbre = None
    if request.cast is not None:
        settings = yield from cast_job(request, settings, models, cache)
    else:
        other = request.timbre_clip if style.timbre_clip is not None else None
        other_track = request.timbre_track if style.timbre_clip is not None else None
        if style.timbre_clip is not None and other is None and other_track is None:
            raise UsageError(
                f"clip '{style.timbre_clip}' (the timbre's face) is not on the timeline"
            )
        timbre = pipeline_job.TimbreSource(other, other_track, style.reference_audio)
    made = yield from pipeline_job.clip_job(
        models, stages, request.clip, settings, timbre=timbre, track=request.track, cache=cache
    )
    return ClipResult(request.clip.clip_id, request.take, style, made.track, made.speech)
