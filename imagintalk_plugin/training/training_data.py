"""A training manifest -> the arrays the semantic branch trains on (mouth crops + audio).

Each clip goes through the same front-end as inference (face tracking, landmarks, 96x96 mouth
crops at 25 fps), so the models train on what they will see. Front-end results land in the
prepared-clip cache; the first pass over a corpus runs the front-end in worker processes (one
per core), later passes read the cache. Audio is read as 16 kHz mono.

Several manifests train one model together (`train --data A --data B:2`): each source has a
weight, and each training clip of a source appears `weight` times in an epoch (a fractional
weight gives a seeded share of the clips one more copy; a weight below 1 leaves a seeded share
out). Validation and test clips appear once, tagged with their corpus, so every score can be
read per corpus.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.errors import ImagintalkError, ManifestError, UsageError
from imagintalk_plugin.core.manifest import ManifestEntry, read_manifest
from imagintalk_plugin.core.progress import Job, Progress, drive
from imagintalk_plugin.frontend.cache import LipTrackCache
from imagintalk_plugin.frontend.lip_shape import track_lip_shape
from imagintalk_plugin.frontend.prepare import prepare_range
from imagintalk_plugin.timeline.bwf import read_wav
from imagintalk_plugin.training.loops.corpus import SemanticCorpus, Utterance

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class DataSource:
    """One training manifest and its weight (copies of each training clip per epoch)."""

    manifest: Path
    weight: float = 1.0

    @property
    def name(self) -> str:
        """The corpus's name: the manifest's folder (e.g. `synth-demo`, `grid-s1`)."""
        path = self.manifest if self.manifest.suffix != ".jsonl" else self.manifest.parent
        return path.resolve().name


def parse_data_source(text: str) -> DataSource:
    """`PATH` or `PATH:WEIGHT` (the `train --data` syntax) -> a `DataSource`."""
    path, sep, weight = text.rpartition(":")
    if sep and path and not Path(text).exists():
        try:
            value = float(weight)
        except ValueError:
            value = None
        if value is not None:
            if not math.isfinite(value) or value <= 0:
                raise UsageError(f"--data {text}: the weight must be a positive number")
            return DataSource(Path(path), value)
    return DataSource(Path(text))


def as_sources(data: Path | DataSource | Sequence[Path | DataSource]) -> tuple[DataSource, ...]:
    """One manifest, a source, or several, as a tuple of sources (plain paths weigh 1)."""
    items = [data] if isinstance(data, Path | str | DataSource) else list(data)
    sources = tuple(d if isinstance(d, DataSource) else DataSource(Path(d)) for d in items)
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise UsageError(f"two --data manifests share a folder name: {', '.join(names)}")
    return sources


def weighted_copies(count: int, weight: float, seed: int) -> list[int]:
    """How many times each of `count` training clips appears per epoch at `weight`."""
    whole, frac = int(weight), weight - int(weight)
    extra = np.random.default_rng([seed, 13]).random(count) < frac
    return [whole + int(e) for e in extra]


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
    manifest: Path | DataSource | Sequence[Path | DataSource],
    *,
    cache: LipTrackCache | None = None,
    jobs: int = 0,
    limit: int | None = None,
    seed: int = 0,
) -> Job[CorpusLoad]:
    """Job: every usable entry of one or several manifests as `Utterance`s (crops via the
    front-end, audio), training clips repeated by their source's weight."""
    sources = as_sources(manifest)
    cache = cache if cache is not None else LipTrackCache()
    utterances: list[Utterance] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for source in sources:
        entries = read_manifest(source.manifest)
        if limit is not None:
            entries = entries[:limit]
        if not entries:
            raise ManifestError(source.manifest, "lists no utterances")
        clash = seen.intersection(e.id for e in entries)
        if clash:
            raise UsageError(
                f"{source.manifest}: id '{sorted(clash)[0]}' is in two manifests "
                "(render one with `imagintalk synth --id-prefix`)"
            )
        seen.update(e.id for e in entries)
        loaded = yield from _load_entries(entries, source.name, cache, jobs, skipped)
        utterances += _weighted(loaded, source.weight, seed)
    return CorpusLoad(SemanticCorpus(utterances), skipped)


def _weighted(utterances: list[Utterance], weight: float, seed: int) -> list[Utterance]:
    """Training clips repeated `weight` times (seeded for a fractional part), others once."""
    if weight == 1.0:
        return utterances
    train = [u for u in utterances if u.split == "train"]
    copies = dict(
        zip((u.id for u in train), weighted_copies(len(train), weight, seed), strict=True)
    )
    out: list[Utterance] = []
    for utterance in utterances:
        out += [utterance] * (copies[utterance.id] if utterance.split == "train" else 1)
    return out


def _load_entries(
    entries: list[ManifestEntry],
    corpus: str,
    cache: LipTrackCache,
    jobs: int,
    skipped: list[str],
) -> Job[list[Utterance]]:
    """The usable entries of one manifest as utterances; the others go to `skipped`."""
    yield from _warm_cache(entries, cache, jobs)
    utterances: list[Utterance] = []
    for index, entry in enumerate(entries):
        yield Progress(f"loading {corpus}", index, len(entries), unit="clip")
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
                word_times=tuple((w.start, w.end) for w in entry.words),
                phones=tuple((p.label, p.start, p.end) for p in entry.phonemes),
                speed=entry.voice.speed if entry.voice is not None else None,
                spell_letters=entry.text_set == "grid",
                corpus=corpus,
                shape=track_lip_shape(track),
            )
        )
    yield Progress(f"loading {corpus}", len(entries), len(entries), unit="clip")
    return utterances


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
