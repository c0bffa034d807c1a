"""Speakers without video: more (face, voice) pairs for the Style-DiT than the faces allow.

A corpus has as many speakers as it has faces and warped variants of them (24 in the demo
corpus, from 12 real faces), far too few for a model to learn how a face implies a voice it
has never heard. The Style-DiT reads a face only through its 128-d identity descriptor, so a
speaker it trains on needs no rendered video: a descriptor drawn from the distribution of the
training speakers' descriptors, the voice the corpus's own rule gives that descriptor
(`voices.voice_from_face`, with the rule and the engine its speakers.jsonl records), and
speech in that voice: espeak-ng's, or Kokoro-82M's for a corpus of Kokoro voices. Such an
utterance has no lips and no expressions; the DiT sees those as absent (zeros) and learns
from it the voice alone.

Each utterance is also spoken, with the same words, in step, by another speaker of the
bank's espeak-ng voices: its content audio (the same seed and speed give espeak-ng the same
timing; Kokoro speech has its own, and the content is moved onto it, `synth.time_warp`). The
DiT's units come from that audio and its target tokens from the speaker's own. Units of MFCC
k-means carry the voice they were taken from, so this takes one source of the voice away
from them. Measured on the demo corpus (`research/identity_swap.py`): it was not enough, the
corpus clips' lip features still carry their speaker's voice and the DiT follows them, not
its identity input; with the lips zeroed it does follow the identity.
See the model card's known limits.

Only training-split descriptors are fitted, so no held-out face or voice is ever read. The
distribution is a Gaussian: the descriptors' mean, and their covariance shrunk half-way to its
diagonal, so draws vary along every descriptor axis (as new faces do), not only along the few
directions 20 faces span.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import EMOTIONS
from imagintalk_plugin.espeak import SAMPLE_RATE, EspeakVoice
from imagintalk_plugin.synth.kokoro import KokoroVoice
from imagintalk_plugin.synth.media import pad_speech
from imagintalk_plugin.synth.sentences import grid_sentence, say
from imagintalk_plugin.synth.time_warp import fit_length, warp_to_spans
from imagintalk_plugin.synth.voices import (
    VoiceEngine,
    VoiceRule,
    emotional,
    emotional_voice,
    kokoro_voice_from_face,
    voice_from_face,
)

SHRINKAGE = 0.5  # share of the covariance's off-diagonal part removed
CACHE_VERSION = 1  # bump when the speech of a bank utterance changes


@dataclass(frozen=True, eq=False)
class FaceDistribution:
    """A Gaussian over face identity descriptors."""

    mean: np.ndarray  # (D,)
    factor: np.ndarray  # (D, D) with factor @ factor.T = the shrunk covariance

    @staticmethod
    def fit(descriptors: np.ndarray) -> FaceDistribution:
        """Fit to (N, D) descriptors, N >= 2 (one row per clip or per speaker)."""
        x = np.asarray(descriptors, np.float64)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"need (N >= 2, D) descriptors, got {x.shape}")
        cov = np.cov(x, rowvar=False)
        shrunk = (1 - SHRINKAGE) * cov + SHRINKAGE * np.diag(np.diag(cov))
        values, vectors = np.linalg.eigh(shrunk)
        factor = vectors * np.sqrt(np.clip(values, 0.0, None))
        return FaceDistribution(x.mean(0), factor)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One (D,) float32 descriptor."""
        z = rng.standard_normal(len(self.mean))
        return (self.mean + self.factor @ z).astype(np.float32)


@dataclass(frozen=True, eq=False)
class VoiceOnlyUtterance:
    """One utterance of a speaker without video."""

    speaker: int
    face_embedding: np.ndarray  # (D,) float32, the drawn descriptor
    voice: EspeakVoice | KokoroVoice  # the voice it was spoken in (after emotion)
    emotion: str
    words: tuple[str, ...]
    audio: np.ndarray  # (N,) float32 mono at `sample_rate`, padded like a corpus clip
    content_audio: np.ndarray  # (N,) the same words and timing in another speaker's voice
    content_speaker: int
    sample_rate: int


@dataclass(frozen=True, eq=False)
class VoiceBank:
    """The drawn speakers: a face descriptor and its neutral voice each, in the corpus's
    engine, and an espeak-ng voice each by the same rule, which says words again (content
    audio; espeak-ng's timing can be forced, Kokoro's cannot). With espeak-ng voices the two
    lists are the same."""

    faces: list[np.ndarray]
    voices: list[EspeakVoice | KokoroVoice]
    content_voices: list[EspeakVoice]

    @staticmethod
    def draw(
        distribution: FaceDistribution,
        speakers: int,
        seed: int,
        rule: VoiceRule = "still",
        engine: VoiceEngine = "espeak",
    ) -> VoiceBank:
        """`speakers` (>= 2) faces from the distribution, each with its voice by the corpus's
        rule (`corpus_voice_rule`) and engine (`corpus_voice_engine`)."""
        if speakers < 2:
            raise ValueError("need at least two speakers")
        rngs = [np.random.default_rng([seed, s, 7]) for s in range(speakers)]
        faces = [distribution.sample(rng) for rng in rngs]
        content = [voice_from_face(face, rule) for face in faces]
        if engine == "kokoro":
            own: list[EspeakVoice | KokoroVoice] = [
                kokoro_voice_from_face(face, rule) for face in faces
            ]
        else:
            own = list(content)
        return VoiceBank(faces, own, content)


def respoken(
    words: tuple[str, ...],
    voice: EspeakVoice,
    *,
    speed: int,
    emotion: str,
    seed: int,
    length: int,
    spell_letters: bool = True,
    intensity: float = 1.0,
    onto: Sequence[tuple[float, float]] = (),
) -> np.ndarray:
    """The words said in `voice` (with the emotion at `intensity`) at `speed`: the timing
    espeak-ng gives any voice at that speed, so an espeak-ng clip's words come out in step
    with its own audio. Padded like a corpus clip, then cut or zero-padded to `length`
    samples. `onto` (the clip's own word spans, seconds) moves each word onto its span
    (`synth.time_warp`), for clips whose timing espeak-ng does not share (Kokoro voices)."""
    spoken_in = replace(emotional_voice(voice, emotion, intensity), speed=speed)
    spoken = say(list(words), spoken_in, seed=seed, spell_letters=spell_letters)
    samples, said_words, _, _ = pad_speech(spoken)
    if onto:
        spans = [(w.start, w.end) for w in said_words]
        return warp_to_spans(samples, spoken.sample_rate, spans, onto, length)
    return fit_length(samples, length)


def voice_only_utterances(
    bank: VoiceBank,
    utterances: int,
    seed: int,
    emotions: tuple[str, ...] = EMOTIONS,
    cache: Path | None = None,
) -> Job[list[VoiceOnlyUtterance]]:
    """Job: `utterances` GRID sentences from the bank's speakers, taken in turn.

    Everything follows from the seed: the same arguments give the same audio. With `cache`, a
    folder, each utterance's audio is kept there as it is made, under a key of the bank and
    the arguments, and read back on the next call: a stage stopped while a Kokoro bank is
    being rendered (2.8 s an utterance measured on this project's shared 2-core machine)
    goes on where it stopped.
    """
    if utterances < 1:
        raise ValueError("need at least one utterance")
    faces, voices, speakers = bank.faces, bank.voices, len(bank.faces)
    folder = cache / _bank_key(bank, seed, emotions) if cache is not None else None
    out: list[VoiceOnlyUtterance] = []
    for index in range(utterances):
        yield Progress("speakers without video", index, utterances, unit="utt")
        rng = np.random.default_rng([seed, index, 8])
        speaker = index % speakers
        words = grid_sentence(rng)
        emotion = emotions[int(rng.integers(len(emotions)))]
        intensity = 1.0 if emotion == "neutral" else float(rng.uniform(0.7, 1.0))
        other = (speaker + 1 + int(rng.integers(speakers - 1))) % speakers
        voice = emotional(voices[speaker], emotion, intensity)
        said = int(rng.integers(2**31 - 1))
        kept = folder / f"{index:06d}.npz" if folder is not None else None
        if kept is not None and kept.exists():
            with np.load(kept) as stored:
                samples, content = stored["audio"], stored["content"]
        else:
            samples, content = _said_and_content(
                bank, tuple(words), voice, (speaker, other), emotion, intensity, said
            )
            if kept is not None:
                kept.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(kept) as tmp, tmp.open("wb") as handle:
                    np.savez(handle, audio=samples, content=content)
        out.append(
            VoiceOnlyUtterance(
                speaker=speaker,
                face_embedding=faces[speaker],
                voice=voice,
                emotion=emotion,
                words=tuple(words),
                audio=samples,
                content_audio=content,
                content_speaker=other,
                sample_rate=SAMPLE_RATE,
            )
        )
    yield Progress("speakers without video", utterances, utterances, unit="utt")
    return out


def _said_and_content(
    bank: VoiceBank,
    words: tuple[str, ...],
    voice: EspeakVoice | KokoroVoice,
    speakers: tuple[int, int],
    emotion: str,
    intensity: float,
    said: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One bank utterance: the words in `voice` (padded like a corpus clip), and the same
    words in step said by the other speaker's espeak-ng voice."""
    speaker, other = speakers
    spoken = say(list(words), voice, seed=said)
    if spoken.sample_rate != SAMPLE_RATE:
        raise ValueError(f"bank speech must be {SAMPLE_RATE} Hz, not {spoken.sample_rate}")
    samples, said_words, _, _ = pad_speech(spoken)
    if isinstance(voice, EspeakVoice):  # espeak-ng: the same speed gives the same timing
        speed, onto = voice.speed, ()
    else:  # Kokoro's timing is its own: the words said again are moved onto it
        speed = emotional_voice(bank.content_voices[speaker], emotion, intensity).speed
        onto = tuple((w.start, w.end) for w in said_words)
    content = respoken(
        words,
        bank.content_voices[other],
        speed=speed,
        emotion=emotion,
        seed=said,
        length=len(samples),
        intensity=intensity,
        onto=onto,
    )
    return samples, content


def _bank_key(bank: VoiceBank, seed: int, emotions: tuple[str, ...]) -> str:
    """A digest of everything an utterance's audio follows from (and the code's version)."""
    digest = hashlib.sha256(f"voice-bank.v{CACHE_VERSION}\0{seed}\0{emotions}".encode())
    for face, voice, content in zip(bank.faces, bank.voices, bank.content_voices, strict=True):
        digest.update(np.asarray(face, np.float32).tobytes())
        digest.update(f"{voice!r}\0{content!r}\0".encode())
    return digest.hexdigest()[:20]
