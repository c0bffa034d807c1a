"""`imagintalk synth`: render a talking-face corpus with its ground truth.

Writes into the output folder:
  video/<id>.mp4      25 fps H.264, FRAME_SIZE square, silent (the take to dub)
  audio/<id>.wav      16 kHz 16-bit mono, the ground-truth speech, starting with the video
  manifest.jsonl      one line per utterance (see core/manifest.py)
  speakers.jsonl      per speaker: source face, variant, voice, split, face embedding, the
                      voice rule (and, with the "rendered" rule, the rendered descriptor)
  faces/<speaker>.png each speaker's aligned neutral face
Utterances are rendered in worker processes, each independent of the others, so the same
arguments give the same bytes however many workers run. An existing corpus is never
overwritten without `force`; a cancelled run leaves whole files only and no manifest.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from imagintalk_plugin.core.errors import OutputExistsError
from imagintalk_plugin.core.files import atomic_path, remove_stale_temporaries
from imagintalk_plugin.core.manifest import ManifestEntry, Voice
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import EMOTIONS
from imagintalk_plugin.espeak import EspeakVoice
from imagintalk_plugin.synth.corpus_plan import UtterancePlan, plan_corpus, speaker_splits
from imagintalk_plugin.synth.face_rig import FaceRig
from imagintalk_plugin.synth.kokoro import KokoroVoice
from imagintalk_plugin.synth.media import VIDEO_FPS, pad_speech, write_mp4, write_wav
from imagintalk_plugin.synth.performance import perform
from imagintalk_plugin.synth.sentences import say
from imagintalk_plugin.synth.speakers import Speaker, make_speakers
from imagintalk_plugin.synth.voices import (
    VoiceEngine,
    VoiceRule,
    emotional,
    kokoro_voice_from_face,
    manifest_kokoro_voice,
    manifest_voice,
    voice_from_face,
)

if TYPE_CHECKING:
    from imagintalk_plugin.frontend.face_models import FaceModels


@dataclass(frozen=True)
class CorpusSettings:
    """What `imagintalk synth` was asked for."""

    out: Path
    utterances: int
    seed: int = 0
    speakers: int = 12
    faces: Path | None = None
    emotions: tuple[str, ...] = EMOTIONS
    text_set: str = "grid"
    jobs: int = 0  # 0 = one per CPU core
    force: bool = False
    voice_rule: VoiceRule = "still"  # "rendered": voices from the face as rendered (probe.py)
    voices: VoiceEngine = "espeak"  # "kokoro": Kokoro-82M neural voices (synth/kokoro.py)
    id_prefix: str = ""  # starts every utterance id, for corpora that train together


@dataclass(frozen=True, eq=False)
class _Actor:
    """What a worker needs of a speaker (picklable)."""

    image: np.ndarray
    landmarks: np.ndarray
    voice: EspeakVoice | KokoroVoice


def _manifest_voice(voice: EspeakVoice | KokoroVoice) -> Voice:
    if isinstance(voice, KokoroVoice):
        return manifest_kokoro_voice(voice)
    return manifest_voice(voice)


def render_utterance(plan: UtterancePlan, actor: _Actor, speaker_id: str, out: Path) -> str:
    """Render one utterance's video and audio into `out`; return its manifest line."""
    rng = np.random.default_rng([plan.seed, 2])
    voice = emotional(actor.voice, plan.emotion, plan.intensity)
    spoken = say(list(plan.words), voice, seed=plan.seed, spell_letters=plan.text_set == "grid")
    samples, words, phonemes, duration = pad_speech(spoken)
    poses = perform(phonemes, duration, plan.emotion, plan.intensity, rng, VIDEO_FPS)
    rig = FaceRig(actor.image, actor.landmarks)
    video = out / "video" / f"{plan.id}.mp4"
    audio = out / "audio" / f"{plan.id}.wav"
    write_mp4(video, (rig.render(pose)[0] for pose in poses))
    write_wav(audio, samples, spoken.sample_rate)
    entry = ManifestEntry(
        id=plan.id,
        video=video,
        audio=audio,
        text=" ".join(w.label for w in words),
        text_set=plan.text_set,
        words=tuple(words),
        phonemes=tuple(phonemes),
        speaker=speaker_id,
        voice=_manifest_voice(voice),
        emotion=plan.emotion,
        split=plan.split,
        duration=round(duration, 4),
        extra={"intensity": plan.intensity},
    )
    return entry.to_json(out)


_WORKER: dict = {}


def _init_worker(actors: list[_Actor], ids: list[str], out: Path) -> None:
    _WORKER.update(actors=actors, ids=ids, out=out)
    cv2.setNumThreads(1)


def _work(plan: UtterancePlan) -> tuple[int, str]:
    actor = _WORKER["actors"][plan.speaker]
    return plan.index, render_utterance(plan, actor, _WORKER["ids"][plan.speaker], _WORKER["out"])


def _speaker_line(
    speaker: Speaker, split: str, rule: VoiceRule, rendered: np.ndarray | None
) -> str:
    line = {
        "speaker": speaker.id,
        "source": speaker.source,
        "variant": speaker.variant,
        "voice": _manifest_voice(speaker.voice).__dict__,
        "split": split,
        "face": f"faces/{speaker.id}.png",
        "embedding": [round(float(v), 5) for v in speaker.embedding],
        "voice_rule": rule,
        "voices": "kokoro" if isinstance(speaker.voice, KokoroVoice) else "espeak",
    }
    if rendered is not None:
        line["rendered_embedding"] = [round(float(v), 5) for v in rendered]
    return json.dumps(line)


def _rendered_voices(
    speakers: list[Speaker], models: FaceModels, scratch: Path
) -> Job[tuple[list[Speaker], list[np.ndarray]]]:
    """The speakers with voices by the "rendered" rule, and their rendered descriptors."""
    from imagintalk_plugin.synth.probe import rendered_descriptor

    scratch.mkdir(parents=True, exist_ok=True)
    voiced, descriptors = [], []
    try:
        for i, speaker in enumerate(speakers):
            yield Progress("probe faces", i, len(speakers), unit="speaker")
            descriptor = rendered_descriptor(speaker.face, models, scratch)
            descriptors.append(descriptor)
            voiced.append(replace(speaker, voice=voice_from_face(descriptor, "rendered")))
        yield Progress("probe faces", len(speakers), len(speakers), unit="speaker")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return voiced, descriptors


def _kokoro_voices(
    speakers: list[Speaker], rendered: list[np.ndarray | None], rule: VoiceRule
) -> list[Speaker]:
    """The speakers with Kokoro voices by the same face -> voice rule (the model's cache file
    is built here, once, before any worker starts)."""
    from imagintalk_plugin.synth.kokoro import model_file, voice_styles

    model_file()
    voice_styles()
    return [
        replace(s, voice=kokoro_voice_from_face(s.embedding if r is None else r, rule))
        for s, r in zip(speakers, rendered, strict=True)
    ]


def _write_text(path: Path, lines: Sequence[str]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def synth_corpus(settings: CorpusSettings) -> Job[Path]:
    """Render the corpus; yields progress per utterance, returns the manifest's path."""
    from imagintalk_plugin.frontend.face_models import shared_face_models
    from imagintalk_plugin.synth.faces import load_faces

    out = settings.out
    manifest = out / "manifest.jsonl"
    if manifest.exists() and not settings.force:
        raise OutputExistsError(manifest)
    plans = plan_corpus(
        settings.utterances,
        settings.speakers,
        settings.seed,
        settings.text_set,
        settings.emotions,
        settings.id_prefix,
    )
    models = shared_face_models()
    yield Progress("faces", 0, settings.speakers, unit="speaker")
    faces = list(load_faces(settings.faces, models))
    speakers = make_speakers(faces, settings.speakers, settings.seed, models)
    yield Progress("faces", settings.speakers, settings.speakers, unit="speaker")
    rendered: list[np.ndarray | None] = [None] * len(speakers)
    if settings.voice_rule == "rendered":
        speakers, found = yield from _rendered_voices(speakers, models, out / ".probes")
        rendered = list(found)
    if settings.voices == "kokoro":
        speakers = _kokoro_voices(speakers, rendered, settings.voice_rule)
    for sub in ("video", "audio", "faces"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    splits = speaker_splits(settings.speakers, settings.seed)
    for s in speakers:
        with atomic_path(out / "faces" / f"{s.id}.png") as tmp:
            cv2.imwrite(str(tmp), cv2.cvtColor(s.face.image, cv2.COLOR_RGB2BGR))
    speaker_lines = [
        _speaker_line(s, split, settings.voice_rule, r)
        for s, split, r in zip(speakers, splits, rendered, strict=True)
    ]
    _write_text(out / "speakers.jsonl", speaker_lines)
    actors = [_Actor(s.face.image, s.face.landmarks, s.voice) for s in speakers]
    ids = [s.id for s in speakers]
    jobs = settings.jobs or os.cpu_count() or 1
    lines: dict[int, str] = {}
    yield Progress("render", 0, len(plans), unit="utt")
    if jobs == 1:
        _init_worker(actors, ids, out)
        for plan in plans:
            index, line = _work(plan)
            lines[index] = line
            yield Progress("render", len(lines), len(plans), unit="utt")
    else:
        # spawn, not fork: the parent has OpenCV and dlib thread pools whose locks a forked
        # child would inherit held (the workers hung on a futex)
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(min(jobs, len(plans)), _init_worker, (actors, ids, out))
        try:
            for index, line in pool.imap_unordered(_work, plans):
                lines[index] = line
                yield Progress("render", len(lines), len(plans), unit="utt")
            pool.close()
        finally:
            pool.terminate()
            pool.join()
            for folder in (out / "video", out / "audio"):
                remove_stale_temporaries(folder)
    _write_text(manifest, [lines[i] for i in range(len(plans))])
    return manifest
