"""A loaded corpus -> the Style-DiT's training items (codes, units, lip features, face, voice).

Everything is computed from what the run folder already holds: units from RUN/units, lip
features from RUN/aligner (the model inference will use), codec tokens from RUN/codec, and
each clip's speaker embedding of the true audio from Resemblyzer (the judges' voice encoder).
Expression features are normalised by the training split's mean and spread, which the DiT
stores so inference normalises the same way. Speakers without video (`synth.voice_bank`) give
items with zero lips and neutral (zero) expressions, whose units come from the same words said
by another voice, so the units do not tell the DiT whose voice to make.
"""

from __future__ import annotations

import numpy as np
import torch

from imagintalk_plugin.audio import SpeakerEncoder
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import EMOTIONS
from imagintalk_plugin.nn.codec import MelCodec
from imagintalk_plugin.nn.face_style import ExpressionStats
from imagintalk_plugin.nn.lip_aligner import LipAligner
from imagintalk_plugin.nn.mel import LogMel
from imagintalk_plugin.nn.units import UnitExtractor
from imagintalk_plugin.synth.voice_bank import VoiceBank, VoiceOnlyUtterance, respoken
from imagintalk_plugin.training.loops.corpus import Utterance
from imagintalk_plugin.training.loops.dit_training import VoiceItem


def _expressions(utterance: Utterance) -> np.ndarray:
    if utterance.expressions is None:
        raise ValueError(f"{utterance.id} has no expression features")
    return utterance.expressions


@torch.no_grad()
def clip_mel(mel: LogMel, audio: np.ndarray, device: torch.device) -> torch.Tensor:
    """(1, M, N // hop) log-mel of one clip's audio."""
    return mel.to(device)(torch.from_numpy(audio.astype(np.float32))[None].to(device))


@torch.no_grad()
def codec_tokens(codec: MelCodec, mel: LogMel, audio: np.ndarray) -> np.ndarray:
    """(L, N // hop) int64 codec tokens of one clip's audio."""
    codec.eval()
    mels = clip_mel(mel, audio, next(codec.parameters()).device)
    return codec.encode(mels)[0].cpu().numpy().astype(np.int64)


def content_conditions(
    utterance: Utterance, units: UnitExtractor, aligner: LipAligner
) -> tuple[np.ndarray, np.ndarray]:
    """The true audio's units and the aligner's lip features of one clip, same length (50 Hz)."""
    ids = units.unit_ids(utterance.audio).astype(np.int64)
    lip = aligner.predict(utterance.crops, utterance.shape).features
    length = min(len(ids), len(lip))
    return ids[:length], lip[:length]


def voice_items(
    utterances: list[Utterance],
    units: UnitExtractor,
    aligner: LipAligner,
    codec: MelCodec,
    stats: ExpressionStats,
    speaker_encoder: SpeakerEncoder,
    content: VoiceBank | None = None,
    seed: int = 0,
) -> Job[list[VoiceItem]]:
    """Job: one `VoiceItem` per utterance, all time axes cut to the shortest.

    With `content`, a synthetic clip's units come from its words said again, in step, by a
    voice of the bank (drawn per clip from the seed): its tokens stay its own voice's.
    """
    items = []
    mel = LogMel(codec.config.mel)
    made: dict[str, VoiceItem] = {}  # a weighted clip listed twice is computed once
    for index, utt in enumerate(utterances):
        yield Progress("style-dit inputs", index, len(utterances), unit="clip")
        if utt.face_embedding is None:
            raise ValueError(f"{utt.id} has no face embedding")
        respeak = content is not None and bool(utt.words) and utt.speed is not None
        if utt.id in made and not respeak:
            items.append(made[utt.id])
            continue
        codes = codec_tokens(codec, mel, utt.audio)
        ids, lip = content_conditions(utt, units, aligner)
        if respeak:
            assert content is not None
            assert utt.speed is not None
            voices = content.content_voices
            pick = int(np.random.default_rng([seed, index, 9]).integers(len(voices)))
            said = respoken(
                utt.words,
                voices[pick],
                speed=utt.speed,
                emotion=utt.emotion,
                seed=0,
                length=len(utt.audio),
                spell_letters=utt.spell_letters,
                onto=utt.word_times,  # in step with the clip whatever voice engine said it
            )
            ids = units.unit_ids(said).astype(np.int64)
        expressions = np.repeat(stats.apply(_expressions(utt)), 2, axis=0)  # 25 -> 50 Hz
        length = min(codes.shape[1], len(ids), len(lip), len(expressions))
        made[utt.id] = VoiceItem(
            codes=codes[:, :length],
            units=ids[:length],
            lip=lip[:length],
            face=utt.face_embedding.astype(np.float32),
            voice=speaker_encoder.embed(utt.audio),
            expressions=expressions[:length],
            emotion=EMOTIONS.index(utt.emotion) if utt.emotion in EMOTIONS else 0,
        )
        items.append(made[utt.id])
    yield Progress("style-dit inputs", len(utterances), len(utterances), unit="clip")
    return items


def voice_only_items(
    utterances: list[VoiceOnlyUtterance],
    units: UnitExtractor,
    codec: MelCodec,
    speaker_encoder: SpeakerEncoder,
    lip_dim: int,
    expression_dim: int,
) -> Job[list[VoiceItem]]:
    """Job: one `VoiceItem` per utterance without video: tokens and speaker embedding of its
    audio, units of its content audio (another voice), zero lips, neutral expressions."""
    items = []
    mel = LogMel(codec.config.mel)
    for index, utt in enumerate(utterances):
        yield Progress("style-dit inputs without video", index, len(utterances), unit="clip")
        if utt.sample_rate != 16000:
            raise ValueError(f"speech without video must be 16 kHz, not {utt.sample_rate} Hz")
        codes = codec_tokens(codec, mel, utt.audio)
        ids = units.unit_ids(utt.content_audio).astype(np.int64)  # another voice's units
        length = min(codes.shape[1], len(ids))
        items.append(
            VoiceItem(
                codes=codes[:, :length],
                units=ids[:length],
                lip=np.zeros((length, lip_dim), np.float32),
                face=utt.face_embedding.astype(np.float32),
                voice=speaker_encoder.embed(utt.audio),
                expressions=np.zeros((length, expression_dim), np.float32),
                emotion=EMOTIONS.index(utt.emotion),
            )
        )
    yield Progress("style-dit inputs without video", len(utterances), len(utterances), unit="clip")
    return items


def fit_expression_stats(utterances: list[Utterance]) -> ExpressionStats:
    """The normalisation over every valid expression frame of the training utterances."""
    return ExpressionStats.fit([_expressions(u) for u in utterances])
