"""A training manifest -> the arrays the semantic branch trains on (mouth crops + audio).

Each clip goes through the same front-end as inference (face tracking, landmarks, 96x96 mouth
crops at 25 fps), so the models train on what they will see. Front-end results land in the
prepared-clip cache; the first pass over a corpus runs the front-end in worker processes (one
per core), later passes read the cache. Audio is read as 16 kHz mono.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.errors import ImagintalkError, ManifestError
from imagintalk_plugin.core.manifest import ManifestEntry, read_manifest
from imagintalk_plugin.core.progress import Job, Progress, drive
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.frontend.prepare import prepare_range
from imagintalk_plugin.nn.training.corpus import SemanticCorpus, Utterance
from imagintalk_plugin.timeline.bwf import read_wav

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class CorpusLoad:
    """The corpus plus what could not be used."""

    corpus: SemanticCorpus
    skipped: list[str]  # "id: reason"


def read_audio_16k(path: Path) -> np.ndarray:
    """(N,) float32 mono at 16 kHz."""
    wave = read_wav(path)
    samples = wave.samples.astype(np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=0)  # (C, N) -> (N,)
    if wave.sample_rate != SAMPLE_RATE:
        import soxr

        samples = soxr.resample(samples, wave.sample_rate, SAMPLE_RATE).astype(np.float32)
    return samples


def _prepare_entry(args: tuple[str, str, str | None]) -> str | None:
    """Worker: run the front-end on one clip into the cache; an error message or None."""
    video, clip_id, cache_dir = args
    cache = LipTrackCache(Path(cache_dir)) if cache_dir else LipTrackCache()
    try:
        drive(prepare_range(Path(video), 0.0, None, clip_id=clip_id, cache=cache))
    except ImagintalkError as error:
        return str(error)
    return None


def load_semantic_corpus(
    manifest: Path,
    *,
    cache: LipTrackCache | None = None,
    jobs: int = 0,
    limit: int | None = None,
) -> Job[CorpusLoad]:
    """Job: every usable manifest entry as an `Utterance` (crops via the front-end, audio)."""
    entries = read_manifest(manifest)
    if limit is not None:
        entries = entries[:limit]
    if not entries:
        raise ManifestError(manifest, "lists no utterances")
    cache = cache if cache is not None else LipTrackCache()
    yield from _warm_cache(entries, cache, jobs)
    utterances: list[Utterance] = []
    skipped: list[str] = []
    for index, entry in enumerate(entries):
        yield Progress("loading clips", index, len(entries), unit="clip")
        try:
            prepared = drive(prepare_range(entry.video, 0.0, None, clip_id=entry.id, cache=cache))
        except ImagintalkError as error:
            skipped.append(f"{entry.id}: {error}")
            continue
        track = prepared.track
        if not track.valid.any():
            skipped.append(f"{entry.id}: no face in any frame")
            continue
        crops = track.mouth_crops
        if crops.dtype != np.uint8:
            crops = np.clip(crops * 255.0 + 0.5, 0, 255).astype(np.uint8)
        utterances.append(
            Utterance(
                id=entry.id,
                speaker=entry.speaker or entry.id,
                split=entry.split or "train",
                crops=crops,
                audio=read_audio_16k(entry.audio),
                face_embedding=track.face_embedding.astype(np.float32),
                expressions=track.expressions.astype(np.float32),
                emotion=entry.emotion,
                words=tuple(w.label for w in entry.words),
                speed=entry.voice.speed if entry.voice is not None else None,
                spell_letters=entry.text_set == "grid",
            )
        )
    yield Progress("loading clips", len(entries), len(entries), unit="clip")
    return CorpusLoad(SemanticCorpus(utterances), skipped)


def _warm_cache(entries: list[ManifestEntry], cache: LipTrackCache, jobs: int) -> Job[None]:
    """Run the front-end over uncached clips in `jobs` spawn workers (0 = one per core)."""
    from imagintalk_plugin.frontend.cache import cache_key
    from imagintalk_plugin.frontend.lip_track_builder import FrontendParams

    params = FrontendParams().cache_params()
    todo = [
        e
        for e in entries
        if cache.enabled and not cache.path_for(cache_key(e.video, 0.0, None, params)).exists()
    ]
    jobs = jobs or os.cpu_count() or 1
    if len(todo) < 2 or jobs < 2 or not cache.enabled:
        return
    args = [(str(e.video), e.id, str(cache.root)) for e in todo]
    # spawn, not fork: OpenCV/dlib thread pools in this process must not be inherited
    with multiprocessing.get_context("spawn").Pool(min(jobs, len(todo))) as pool:
        for done, _ in enumerate(pool.imap_unordered(_prepare_entry, args, chunksize=4), 1):
            yield Progress("front-end", done, len(todo), unit="clip")
