"""Manifests shaped like `imagintalk corpus import` writes for real corpora: `voice` null, no
phonemes, every emotion "neutral", words possibly untimed (`words` empty, `"words_timed":
false`).

Two kinds: `real_style_corpus` (espeak-ng speech of one speaker, placeholder videos: fast, for
the judges' plumbing) and `grid_s1_manifest` (real GRID s1 clips from the shared data, their
own recording decoded to 16 kHz WAV, words from GRID's alignment, the video kept in place).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from evaluation_fixtures import VOICES, speak_words, write_wav

from imagintalk_plugin.audio import SAMPLE_RATE, resample
from imagintalk_plugin.core.manifest import ManifestEntry, Segment
from imagintalk_plugin.synth.sentences import grid_sentence

ALIGN_UNITS_PER_S = 25000.0  # GRID .align times
ALIGN_SILENCE = ("sil", "sp")


def decode_audio(path: Path) -> np.ndarray:
    """A media file's first audio stream as 16 kHz mono float32 (PyAV decode, soxr)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]
    samples = np.concatenate(chunks, axis=-1)
    if samples.dtype == np.int16:
        samples = samples.astype(np.float32) / 32768.0
    return resample(samples.mean(axis=0) if samples.ndim == 2 else samples, rate)


def read_align(path: Path) -> tuple[Segment, ...]:
    """The words of a GRID `.align` file with their times in seconds (silences left out)."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] not in ALIGN_SILENCE:
            start, end = float(parts[0]), float(parts[1])
            words.append(Segment(parts[2], start / ALIGN_UNITS_PER_S, end / ALIGN_UNITS_PER_S))
    return tuple(words)


def _write_manifest(root: Path, entries: list[ManifestEntry]) -> Path:
    manifest = root / "manifest.jsonl"
    lines = [entry.to_json(root) for entry in entries]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def grid_s1_manifest(root: Path, grid_s1: Path, names: list[str], split: str = "test") -> Path:
    """A manifest of real GRID s1 clips: `root/audio/<id>.wav` decoded from each clip's own
    recording, the video referenced where it lies (`grid_s1/video/<id>.mp4`)."""
    entries = []
    for name in names:
        video = grid_s1 / "video" / f"{name}.mp4"
        words = read_align(grid_s1 / "align" / f"{name}.align")
        audio = decode_audio(video)
        wav = write_wav(root / "audio" / f"{name}.wav", audio)
        entries.append(
            ManifestEntry(
                id=name,
                video=video,
                audio=wav,
                text=" ".join(w.label for w in words),
                text_set="grid",
                words=words,
                phonemes=(),
                speaker="s1",
                voice=None,
                emotion="neutral",
                split=split,
                duration=len(audio) / SAMPLE_RATE,
                extra={"source": "grid", "words_timed": True},
            )
        )
    return _write_manifest(root, entries)


def real_style_corpus(root: Path, count: int = 4, speaker: str = "s01", seed: int = 0) -> Path:
    """`count` GRID lines of one espeak-ng voice as a real corpus would list them: voice null,
    no phonemes, "neutral", untimed words; placeholder videos; all in the test split."""
    rng = np.random.default_rng(seed)
    entries = []
    for n in range(count):
        words = grid_sentence(rng)
        samples = speak_words(words, VOICES[speaker], "grid")
        uid = f"{speaker}_{n:03d}"
        video = root / "video" / f"{uid}.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        video.write_bytes(b"placeholder")
        entries.append(
            ManifestEntry(
                id=uid,
                video=video,
                audio=write_wav(root / "audio" / f"{uid}.wav", samples),
                text=" ".join(words),
                text_set="grid",
                words=(),
                phonemes=(),
                speaker=speaker,
                voice=None,
                emotion="neutral",
                split="test",
                duration=len(samples) / SAMPLE_RATE,
                extra={"words_timed": False},
            )
        )
    return _write_manifest(root, entries)
