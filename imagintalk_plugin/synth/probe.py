"""A speaker's face as the front-end reads it in rendered video: the "rendered" voice rule's input.

Rendering moves a face's dlib descriptor: the clips' descriptors are offset from the still
face's by about as much as they scatter around their own mean. So the "rendered" rule takes
a speaker's voice from the mean descriptor of a few probe clips rendered from the face, one
per emotion (as the corpus mixes them), each through the corpus's own rendering (viseme rig,
H.264) and the front-end's identity path. The probes' timing comes from one fixed reference
voice, so a face's descriptor never depends on the voice it is about to get. Probe videos are
written to a scratch folder the caller owns and removes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.core.signals import EMOTIONS
from imagintalk_plugin.espeak import EspeakVoice
from imagintalk_plugin.frontend.face_models import FaceModels
from imagintalk_plugin.frontend.lip_track_builder import build_lip_track
from imagintalk_plugin.synth.face_rig import FaceRig
from imagintalk_plugin.synth.faces import AlignedFace
from imagintalk_plugin.synth.media import VIDEO_FPS, pad_speech, write_mp4
from imagintalk_plugin.synth.performance import perform
from imagintalk_plugin.synth.sentences import grid_sentence, say
from imagintalk_plugin.synth.voices import emotional_voice

PROBE_VOICE = EspeakVoice(variant="m1", pitch=50, pitch_range=50, speed=165)
PROBE_SEED = 4241  # the probes' sentences and motion: the same for every corpus seed


def rendered_descriptor(
    face: AlignedFace, models: FaceModels, scratch: Path, emotions: tuple[str, ...] = EMOTIONS
) -> np.ndarray:
    """(D,) float32: the mean front-end descriptor of one probe clip per emotion."""

    rig = FaceRig(face.image, face.landmarks)
    descriptors = []
    for k, emotion in enumerate(emotions):
        rng = np.random.default_rng([PROBE_SEED, k])
        voice = emotional_voice(PROBE_VOICE, emotion)
        spoken = say(grid_sentence(rng), voice, seed=PROBE_SEED + k, spell_letters=True)
        _, _, phonemes, duration = pad_speech(spoken)
        poses = perform(phonemes, duration, emotion, 1.0, rng, VIDEO_FPS)
        path = scratch / f"probe-{k}.mp4"
        write_mp4(path, (rig.render(pose)[0] for pose in poses))
        prepared = drive(build_lip_track(path, 0.0, None, clip_id=path.stem, models=models))
        descriptors.append(prepared.track.face_embedding)
        path.unlink()
    return np.mean(descriptors, axis=0).astype(np.float32)
