"""`imagintalk voice-corpus`: the full pipeline, video to WAV, over a manifest's clips.

The quality numbers of a checkpoint come from here: each selected clip's silent video goes
through the front-end and `speak_track` (nothing of its audio is used) into `OUT/<id>.wav`,
which `imagintalk eval --manifest MANIFEST --generated OUT --split test` then scores with the
judges. Existing WAVs are kept, so an interrupted run resumes.
"""

from __future__ import annotations

from pathlib import Path

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.manifest import read_manifest
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.frontend.prepare import prepare_range
from imagintalk_plugin.pipeline.dub_models import DubModels
from imagintalk_plugin.pipeline.speech import SpeechSettings, speak_track
from imagintalk_plugin.runtime.stages import Stages
from imagintalk_plugin.timeline.bwf import write_bwf


def voice_corpus(
    models: DubModels,
    stages: Stages,
    manifest: Path,
    out: Path,
    split: str | None = "test",
    limit: int | None = None,
    settings: SpeechSettings | None = None,
) -> Job[int]:
    """Job: `OUT/<id>.wav` for each selected entry; returns how many were generated now."""
    entries = [e for e in read_manifest(manifest) if split is None or e.split == split]
    entries = entries[:limit] if limit else entries
    if not entries:
        raise UsageError(f"{manifest} has no '{split}' utterances")
    out.mkdir(parents=True, exist_ok=True)
    made = 0
    for index, entry in enumerate(entries):
        yield Progress("voice corpus", index, len(entries), entry.id, unit="clip")
        target = out / f"{entry.id}.wav"
        if target.exists():
            continue
        prepared = yield from prepare_range(entry.video, 0.0, None, clip_id=entry.id)
        speech = yield from speak_track(models, stages, prepared.track, settings)
        write_bwf(target, speech.waveform, time_reference=0)
        made += 1
    yield Progress("voice corpus", len(entries), len(entries), unit="clip")
    return made
