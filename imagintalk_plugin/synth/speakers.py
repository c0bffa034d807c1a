"""The corpus's speakers: a real face each (or a variant of one), its embedding and its voice.

With fewer faces than speakers, extra speakers are variants of the real faces: the face's
proportions changed (face width, jaw length, eye spacing, nose length, mouth width) by a
landmark warp, and its skin tone and lighting shifted. A variant is a new face to the face
embedding (and so gets its own voice), though a close relative of its source: similar faces,
similar voices. Variant 0 of every face is the face itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from imagintalk_plugin.espeak import EspeakVoice
from imagintalk_plugin.frontend.face_models import FaceModels
from imagintalk_plugin.synth.face_rig import warp_landmarks
from imagintalk_plugin.synth.faces import AlignedFace
from imagintalk_plugin.synth.voices import voice_from_face


@dataclass(frozen=True, eq=False)
class Speaker:
    """One synthetic speaker: id, aligned face, identity embedding, neutral voice."""

    id: str
    source: str  # the face file (stem) it comes from
    variant: int
    face: AlignedFace
    embedding: np.ndarray
    voice: EspeakVoice


def _morph_landmarks(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Landmarks with the face's proportions changed by a few percent."""
    p = points.astype(np.float64).copy()
    centre = p[27:36].mean(0)
    width, jaw, eyes, nose, mouth = rng.uniform(-1, 1, 5) * (0.08, 0.08, 0.06, 0.08, 0.1)
    p[0:17, 0] = centre[0] + (p[0:17, 0] - centre[0]) * (1 + width)
    chin = p[4:13, 1] > centre[1]
    p[4:13, 1][chin] = centre[1] + (p[4:13, 1][chin] - centre[1]) * (1 + jaw)
    for eye in (slice(36, 42), slice(17, 22)), (slice(42, 48), slice(22, 27)):
        shift = (p[eye[0]].mean(0)[0] - centre[0]) * eyes
        p[eye[0], 0] += shift
        p[eye[1], 0] += shift
    p[31:36, 1] += (p[31:36, 1].mean() - p[27, 1]) * nose
    mouth_centre = p[48:68].mean(0)
    p[48:68, 0] = mouth_centre[0] + (p[48:68, 0] - mouth_centre[0]) * (1 + mouth)
    p[48:68, 1] += (p[48:68].mean(0)[1] - p[33, 1]) * jaw * 0.5
    return p


def _shift_tone(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Skin tone and lighting: per-channel gain, a gamma, and a soft side light."""
    gains = 1 + rng.uniform(-0.1, 0.1, 3)
    gamma = float(np.exp(rng.uniform(-0.15, 0.15)))
    side = rng.uniform(-0.12, 0.12)
    ramp = 1 + side * np.linspace(-1, 1, image.shape[1])[None, :, None]
    out = 255.0 * (image.astype(np.float64) / 255.0) ** gamma * gains * ramp
    return np.clip(out, 0, 255).astype(np.uint8)


def face_variant(face: AlignedFace, variant: int, seed: int, models: FaceModels) -> AlignedFace:
    """Variant `variant` of `face` (0 = the face itself); landmarks placed again afterwards."""
    if variant == 0:
        return face
    rng = np.random.default_rng([seed, variant, 7919])
    target = _morph_landmarks(face.landmarks, rng)
    image = _shift_tone(warp_landmarks(face.image, face.landmarks, target), rng)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    points = models.landmarks(gray, models.box_from_landmarks(target.astype(np.float32)))
    return AlignedFace(f"{face.name}~{variant}", image, points.astype(np.float32))


def make_speakers(
    faces: Sequence[AlignedFace], count: int, seed: int, models: FaceModels
) -> list[Speaker]:
    """`count` speakers from `faces`, cycling through the faces, then through their variants."""
    speakers = []
    for i in range(count):
        base, variant = faces[i % len(faces)], i // len(faces)
        face = face_variant(base, variant, seed, models)
        embedding = models.embed(face.image, face.landmarks)
        speakers.append(
            Speaker(f"s{i:03d}", base.name, variant, face, embedding, voice_from_face(embedding))
        )
    return speakers
