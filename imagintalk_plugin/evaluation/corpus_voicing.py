"""`imagintalk voice-corpus`: the full pipeline, video to WAV, over a manifest's clips.

The quality numbers of a checkpoint come from here: each selected clip's silent video goes
through the front-end and `speak_tracks` (nothing of its audio is used) into `OUT/<id>.wav`,
which `imagintalk eval --manifest MANIFEST --generated OUT --split test` then scores with the
judges. Existing WAVs are kept, so an interrupted run resumes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.manifest import read_manifest
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.frontend.prepare import prepare_range
from imagintalk_plugin.pipeline.dub_models import DubModels
from imagintalk_plugin.pipeline.speech import SpeechSettings, speak_tracks
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
    batch_size: int = 1,
    lines: bool = False,
) -> Job[int]:
    """Job: `OUT/<id>.wav` for each selected entry, `batch_size` clips generated together;
    returns how many were generated now. `lines`: each clip says its transcript as a known
    line (ADR) instead of the words read from its lips."""
    settings = settings or SpeechSettings()
    entries = [e for e in read_manifest(manifest) if split is None or e.split == split]
    entries = entries[:limit] if limit else entries
    if not entries:
        raise UsageError(f"{manifest} has no '{split}' utterances")
    out.mkdir(parents=True, exist_ok=True)
    todo = [e for e in entries if not (out / f"{e.id}.wav").exists()]
    done = len(entries) - len(todo)
    for first in range(0, len(todo), batch_size):
        group = todo[first : first + batch_size]
        tracks = []
        for entry in group:
            yield Progress("voice corpus", done, len(entries), entry.id, unit="clip")
            prepared = yield from prepare_range(entry.video, 0.0, None, clip_id=entry.id)
            tracks.append(prepared.track)
        requests = [
            (track, replace(settings, line=entry.text) if lines else settings)
            for entry, track in zip(group, tracks, strict=True)
        ]
        speeches = yield from speak_tracks(models, stages, requests, batch_size)
        for entry, speech in zip(group, speeches, strict=True):
            write_bwf(out / f"{entry.id}.wav", speech.waveform, time_reference=0)
        done += len(group)
    yield Progress("voice corpus", len(entries), len(entries), unit="clip")
    return len(todo)
