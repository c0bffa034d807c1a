"""Small espeak-ng corpora for the evaluation tests: WAVs and a manifest.jsonl, no video.

Voices and emotions are this file's own (pitch level / range / speed, as the corpus expresses
emotion), so the tests do not move when the corpus builder's tables change. The manifest's
video files are placeholders: the sync judge has its own tests on real footage.
"""

from __future__ import annotations

import wave
from dataclasses import replace
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.manifest import ManifestEntry, Segment, Voice
from imagintalk_plugin.espeak import EspeakVoice
from imagintalk_plugin.synth.sentences import HARVARD, grid_sentence, say

VOICES = {
    "s01": EspeakVoice("m3", pitch=42, pitch_range=50, speed=160),
    "s02": EspeakVoice("f2", pitch=68, pitch_range=55, speed=170),
    "s03": EspeakVoice("m7", pitch=30, pitch_range=45, speed=150),
}
# emotion -> (pitch change, range change, speed factor)
EMOTION_STYLE = {
    "neutral": (0, 0, 1.0),
    "happy": (10, 25, 1.1),
    "sad": (-10, -30, 0.8),
    "surprised": (20, 35, 1.0),
}


def emotional(voice: EspeakVoice, emotion: str) -> EspeakVoice:
    """The voice with an emotion's pitch level, range and speed."""
    pitch, spread, speed = EMOTION_STYLE[emotion]
    return replace(
        voice,
        pitch=int(np.clip(voice.pitch + pitch, 0, 99)),
        pitch_range=int(np.clip(voice.pitch_range + spread, 0, 99)),
        speed=round(voice.speed * speed),
    )


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """Float samples as 16-bit mono PCM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.clip(np.round(np.asarray(samples, np.float64) * 32767), -32768, 32767)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.astype("<i2").tobytes())
    return path


def speak_words(words: list[str], voice: EspeakVoice, text_set: str) -> np.ndarray:
    """16 kHz float32 speech of the words (GRID letters by name)."""
    return say(words, voice).samples if text_set == "grid" else say_free(words, voice)


def say_free(words: list[str], voice: EspeakVoice) -> np.ndarray:
    """Free text, letters not respelled."""
    from imagintalk_plugin.espeak import speak

    return speak(" ".join(words), voice).samples


def build_corpus(
    root: Path,
    speakers: tuple[str, ...] = ("s01", "s02"),
    emotions: tuple[str, ...] = ("neutral",),
    per_pair: int = 2,
    free: int = 0,
    seed: int = 0,
) -> Path:
    """A corpus under `root`: per speaker and emotion `per_pair` GRID lines (and `free` Harvard
    sentences per speaker, neutral); returns the manifest path."""
    rng = np.random.default_rng(seed)
    lines = []
    for speaker in speakers:
        items = [(e, grid_sentence(rng), "grid") for e in emotions for _ in range(per_pair)]
        items += [("neutral", HARVARD[i].split(), "free") for i in range(free)]
        for n, (emotion, words, text_set) in enumerate(items):
            voice = emotional(VOICES[speaker], emotion)
            samples = speak_words(words, voice, text_set)
            uid = f"{speaker}_{n:03d}"
            audio = write_wav(root / "audio" / f"{uid}.wav", samples)
            video = root / "video" / f"{uid}.mp4"
            video.parent.mkdir(exist_ok=True)
            video.write_bytes(b"placeholder")
            entry = ManifestEntry(
                id=uid,
                video=video,
                audio=audio,
                text=" ".join(words),
                text_set=text_set,
                words=(Segment(words[0], 0.0, 0.1),),
                phonemes=(),
                speaker=speaker,
                voice=Voice(voice.variant, voice.pitch, voice.pitch_range, voice.speed),
                emotion=emotion,
                split="test" if n % 4 == 3 else "train",
                duration=len(samples) / 16000,
            )
            lines.append(entry.to_json(root))
    manifest = root / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest
