"""Each face's voice, derived from the face itself, and how emotion changes a voice.

A speaker's voice (espeak-ng variant, base pitch, pitch range, speed) is a fixed, smooth
function of the face's 128-d dlib identity embedding: the embedding is projected on fixed
random directions (a constant seed, never the corpus seed), each projection standardised with
a mean and spread measured once on 19 real faces (scikit-image's astronaut and the frames of
the shared GRID and LivePortrait clips), and squashed with tanh into each parameter's range.
The variant is the direction with the largest standardised projection. So similar faces get
similar voices, a face never seen before still gets a voice, and a model can learn timbre
from faces. That is the "still" rule; the "rendered" rule (`synth.rendered_voice_rule`) maps
the same way from projections built to be told from the face as rendered in video.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np

from imagintalk_plugin.core.manifest import Voice
from imagintalk_plugin.espeak import EspeakVoice
from imagintalk_plugin.synth.kokoro import KokoroVoice

VoiceRule = Literal["still", "rendered"]
VOICE_RULES: tuple[VoiceRule, ...] = ("still", "rendered")
VoiceEngine = Literal["espeak", "kokoro"]
VOICE_ENGINES: tuple[VoiceEngine, ...] = ("espeak", "kokoro")
# one variant of each group resemblyzer's speaker encoder tells apart at equal pitch (m1~m3,
# m2~m5~m6 and f1~f2~f5 sound alike to it)
VARIANTS = ("m1", "m2", "m4", "m7", "m8", "f1", "f3", "f4")
PROJECTION_SEED = 20261121
# mean and spread of each projection over the 19 calibration faces (see module doc)
_CALIBRATION_MEAN = (
    -0.0803, -0.0762, 0.0231, -0.0689, -0.0231, 0.0984, 0.0090, -0.1099, -0.0542, 0.0366,
    0.1641,
)  # fmt: skip
_CALIBRATION_SPREAD = (
    0.0391, 0.0387, 0.0463, 0.0291, 0.0666, 0.0536, 0.0637, 0.0451, 0.0422, 0.0363,
    0.0656,
)  # fmt: skip

# emotion -> (pitch change, pitch-range change, speed factor), in espeak-ng's 0-100 units
EMOTION_VOICE = {
    "neutral": (0, 0, 1.0),
    "happy": (10, 28, 1.05),
    "sad": (-10, -30, 0.82),
    "angry": (-3, 8, 1.22),
    "surprised": (18, 40, 0.94),
}


@cache
def _directions() -> np.ndarray:
    """(3 + len(VARIANTS), 128) fixed unit directions: pitch, range, speed, then one per variant."""
    rng = np.random.default_rng(PROJECTION_SEED)
    d = rng.standard_normal((3 + len(VARIANTS), 128))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def face_projections(embedding: np.ndarray) -> np.ndarray:
    """Standardised projections of a face embedding (about zero mean, unit spread over faces)."""
    raw = _directions() @ np.asarray(embedding, np.float64)
    return (raw - np.array(_CALIBRATION_MEAN)) / np.array(_CALIBRATION_SPREAD)


def voice_from_face(embedding: np.ndarray, rule: VoiceRule = "still") -> EspeakVoice:
    """The speaker's neutral voice, a deterministic smooth function of its face embedding.

    "still": projections of the still face's embedding (module doc); "rendered": of the
    descriptor the front-end reads from the rendered video (`synth.rendered_voice_rule`)."""
    if rule not in VOICE_RULES:
        raise ValueError(f"unknown voice rule '{rule}' (one of {VOICE_RULES})")
    if rule == "rendered":
        from imagintalk_plugin.synth.rendered_voice_rule import rendered_rule

        return voice_from_projections(rendered_rule().project(embedding))
    return voice_from_projections(face_projections(embedding))


def voice_from_projections(z: np.ndarray) -> EspeakVoice:
    """The voice for standardised projections: pitch, range, speed, then one per variant."""
    pitch = round(float(50 + 24 * np.tanh(z[0] / 1.5)))
    pitch_range = round(float(50 + 16 * np.tanh(z[1] / 1.5)))
    speed = round(float(165 + 22 * np.tanh(z[2] / 1.5)))
    variant = VARIANTS[int(np.argmax(z[3:]))]
    return EspeakVoice(variant=variant, pitch=pitch, pitch_range=pitch_range, speed=speed)


def emotional_voice(voice: EspeakVoice, emotion: str, intensity: float = 1.0) -> EspeakVoice:
    """`voice` as it sounds with `emotion` (pitch level and range, speed), scaled by intensity."""
    pitch, spread, speed = EMOTION_VOICE[emotion]
    return replace(
        voice,
        pitch=int(np.clip(round(voice.pitch + intensity * pitch), 0, 99)),
        pitch_range=int(np.clip(round(voice.pitch_range + intensity * spread), 0, 99)),
        speed=round(float(voice.speed * (1 + intensity * (speed - 1)))),
    )


def manifest_voice(voice: EspeakVoice) -> Voice:
    """The manifest's record of an espeak-ng voice."""
    return Voice(voice.variant, voice.pitch, voice.pitch_range, voice.speed)


def _speakers_field(manifest: Path, key: str, default: str) -> str:
    """A field of the first speaker in the speakers.jsonl beside a corpus's manifest (`default`
    when the file or the field is absent: corpora from before the choice)."""
    speakers = manifest.parent / "speakers.jsonl"
    if not speakers.exists():
        return default
    lines = [line for line in speakers.read_text(encoding="utf-8").splitlines() if line.strip()]
    return str(json.loads(lines[0]).get(key, default)) if lines else default


def corpus_voice_rule(manifest: Path) -> VoiceRule:
    """The voice rule a corpus was made with, from the speakers.jsonl beside its manifest
    ("still" when the file or the field is absent: corpora from before the choice)."""
    rule = _speakers_field(manifest, "voice_rule", "still")
    for known in VOICE_RULES:
        if rule == known:
            return known
    raise ValueError(f"{manifest.parent / 'speakers.jsonl'}: unknown voice rule '{rule}'")


# The Kokoro voices (`--voices kokoro`): the 28 English style arrays of kokoro_v1_en_voices.npz
KOKORO_VOICES = (
    "af_alloy", "af_aoede", "af_bella", "af_heart", "af_jessica", "af_kore", "af_nicole",
    "af_nova", "af_river", "af_sarah", "af_sky", "am_adam", "am_echo", "am_eric", "am_fenrir",
    "am_liam", "am_michael", "am_onyx", "am_puck", "am_santa", "bf_alice", "bf_emma",
    "bf_isabella", "bf_lily", "bm_daniel", "bm_fable", "bm_george", "bm_lewis",
)  # fmt: skip
KOKORO_SEED = 20261207
KOKORO_BLEND = 3  # voices per blend
KOKORO_TEMPERATURE = 0.6  # softmax temperature over the voices' scores


@cache
def _kokoro_mixing() -> np.ndarray:
    """(len(KOKORO_VOICES), 11) fixed random map from the face projections to voice scores."""
    rng = np.random.default_rng(KOKORO_SEED)
    m = rng.standard_normal((len(KOKORO_VOICES), 3 + len(VARIANTS)))
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def kokoro_voice_from_projections(z: np.ndarray) -> KokoroVoice:
    """The Kokoro voice for standardised face projections (the same ones the espeak-ng rule
    reads): every voice gets a score, a fixed linear function of the projections; the blend is
    a softmax over the scores, kept to the `KOKORO_BLEND` best voices; the speed follows the
    speed projection as the espeak-ng rule's does. Close faces give close scores, so close
    blends: similar faces, similar voices, and a model can learn the rule."""
    scores = _kokoro_mixing() @ np.asarray(z, np.float64)
    order = np.argsort(-scores, kind="stable")[:KOKORO_BLEND]
    weights = np.exp((scores[order] - scores[order[0]]) / KOKORO_TEMPERATURE)
    weights /= weights.sum()
    blend = tuple(
        (KOKORO_VOICES[i], round(float(w), 3)) for i, w in zip(order, weights, strict=True)
    )
    speed = round(float(1.0 + 0.12 * np.tanh(z[2] / 1.5)), 3)
    return KokoroVoice(blend, speed)


def kokoro_voice_from_face(embedding: np.ndarray, rule: VoiceRule = "still") -> KokoroVoice:
    """The speaker's neutral Kokoro voice from its face (rules as in `voice_from_face`)."""
    if rule not in VOICE_RULES:
        raise ValueError(f"unknown voice rule '{rule}' (one of {VOICE_RULES})")
    if rule == "rendered":
        from imagintalk_plugin.synth.rendered_voice_rule import rendered_rule

        return kokoro_voice_from_projections(rendered_rule().project(embedding))
    return kokoro_voice_from_projections(face_projections(embedding))


def emotional_kokoro_voice(voice: KokoroVoice, emotion: str, intensity: float = 1.0) -> KokoroVoice:
    """`voice` with `emotion`, scaled by intensity: the speed moves by the espeak-ng rule's
    factor, and the style's prosody half moves along Kokoro's pitch-level and pitch-range
    directions (`kokoro.prosody_directions`) by the espeak-ng rule's pitch and range changes
    over 100 (happy +0.10 / +0.28, sad -0.10 / -0.30, ...). The timbre half stays: the
    speaker keeps their voice. Measured on two blends: +0.10 pitch raised the median F0 by
    6-7%, -0.10 lowered it 5-7%; "sad" narrowed and "surprised" widened the F0 spread."""
    pitch, spread, speed = EMOTION_VOICE[emotion]
    return replace(
        voice,
        speed=round(float(voice.speed * (1 + intensity * (speed - 1))), 3),
        prosody=(
            round(voice.prosody[0] + intensity * pitch / 100, 4),
            round(voice.prosody[1] + intensity * spread / 100, 4),
        ),
    )


def manifest_kokoro_voice(voice: KokoroVoice) -> Voice:
    """The manifest's record of a Kokoro voice: the blend's name as the variant
    ("kokoro:af_heart*0.60+..."), no pitch settings, and the speed in espeak-ng's units
    (words a minute, 165 = Kokoro's 1.0) so that speaking rates compare across engines."""
    return Voice(f"kokoro:{voice.name}", 0, 0, round(165 * voice.speed))


def emotional(
    voice: EspeakVoice | KokoroVoice, emotion: str, intensity: float = 1.0
) -> EspeakVoice | KokoroVoice:
    """`voice` with `emotion` at `intensity`, whichever engine speaks it."""
    if isinstance(voice, KokoroVoice):
        return emotional_kokoro_voice(voice, emotion, intensity)
    return emotional_voice(voice, emotion, intensity)


def corpus_voice_engine(manifest: Path) -> VoiceEngine:
    """The voices a corpus was made with ("espeak" or "kokoro"), from the speakers.jsonl
    beside its manifest ("espeak" when the file or the field is absent)."""
    engine = _speakers_field(manifest, "voices", "espeak")
    for known in VOICE_ENGINES:
        if engine == known:
            return known
    raise ValueError(f"{manifest.parent / 'speakers.jsonl'}: unknown voices '{engine}'")
