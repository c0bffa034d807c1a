"""The three training stages of the acoustic branch, each a job over a loaded corpus.

RUN/codec/       RVQ codec over log-mels                  (train codec)
RUN/vocoder_gan/ vocoder + discriminator, for --resume    (train vocoder: needs codec)
RUN/vocoder/     the vocoder alone, what inference loads
RUN/dit/         face-style adapter + Style-DiT           (train dit: needs units, aligner,
                                                           codec)
RUN/dit_voice/   the same, for identity overrides         (train dit-voice: as dit, with the
                 (a reference voice, another face)         preset's voice bank and lip drop)
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.nn.checkpoint import save_model
from imagintalk_plugin.pipeline.acoustic_models import OVERRIDE_DIT, load_codec, weights_digest
from imagintalk_plugin.synth.voices import (
    VoiceEngine,
    VoiceRule,
    corpus_voice_engine,
    corpus_voice_rule,
)
from imagintalk_plugin.training.acoustic_presets import AcousticPreset
from imagintalk_plugin.training.loops.corpus import SemanticCorpus
from imagintalk_plugin.training.loops.distributed import DistributedContext, barrier
from imagintalk_plugin.training.loops.loop import run_stage
from imagintalk_plugin.training.request import TrainRequest, check_fresh, with_steps, write_metrics


def _audio(corpus: SemanticCorpus, split: str) -> list:
    return [u.audio for u in corpus.split(split)]


def _meta(request: TrainRequest, preset: AcousticPreset, **extra: Any) -> dict[str, Any]:
    return {"preset": preset.name, "data": request.data_label, **extra}


def train_codec(
    request: TrainRequest, preset: AcousticPreset, corpus: SemanticCorpus, ctx: DistributedContext
) -> Job[dict[str, Any]]:
    """Train the RVQ codec on the training audio; score the round trip on test speakers."""
    from imagintalk_plugin.nn.codec import CODEC_KIND
    from imagintalk_plugin.nn.mel import LogMel
    from imagintalk_plugin.training.loops.codec_training import codec_scores, codec_stage

    folder = request.out / "codec"
    stage = codec_stage(
        preset.codec,
        preset.codec_train,
        _audio(corpus, "train"),
        _audio(corpus, "valid"),
        _meta(request, preset),
    )
    _start_from(request, "codec", CODEC_KIND, stage.model, stage.meta)
    result = yield from run_stage(stage, folder, ctx, resume=request.resume, force=request.force)
    test: dict[str, float] = {}
    if ctx.is_main:
        yield Progress("codec: test speakers", 0, 1, unit="set")
        mel = LogMel(preset.codec.mel)
        test = codec_scores(stage.model, mel, _audio(corpus, "test"), "test_")  # type: ignore[arg-type]
        write_metrics(folder / "metrics.json", {"history": result["history"], "test": test})
    return {"history": result["history"], "test": test}


def _start_from(
    request: TrainRequest, name: str, kind: str, model: Any, meta: dict[str, Any]
) -> None:
    """`train --init MODEL`: a fresh stage starts from MODEL/<name>'s weights (a shipped model
    or another run; same config), to fine-tune it on new data rather than start from noise."""
    if request.init is None or request.resume:
        return
    from imagintalk_plugin.nn.checkpoint import load_model, load_weights_strictly

    source = request.init / name
    config, weights, _ = load_model(source, kind, type(model.config))
    if config != model.config:
        raise UsageError(f"--init {source}: its {name} has another config than the preset's")
    load_weights_strictly(model, {k: v.float() for k, v in weights.items()}, source)
    meta["init"] = str(source)


def train_vocoder(
    request: TrainRequest, preset: AcousticPreset, corpus: SemanticCorpus, ctx: DistributedContext
) -> Job[dict[str, Any]]:
    """Train the vocoder against its discriminator; save the generator alone for inference."""
    from imagintalk_plugin.nn.mel import LogMel
    from imagintalk_plugin.nn.vocoder import VOCODER_KIND
    from imagintalk_plugin.training.loops.vocoder_training import vocoder_scores, vocoder_stage

    check_fresh(request.out / "vocoder", request)
    codec, codec_id = load_codec(request.out, str(ctx.device))
    meta = _meta(request, preset, codec_id=codec_id)
    stage = vocoder_stage(
        preset.vocoder,
        preset.vocoder_train,
        _audio(corpus, "train"),
        _audio(corpus, "valid"),
        codec,
        preset.vocoder_seconds,
        meta,
    )
    _start_from(request, "vocoder", VOCODER_KIND, stage.model.generator, stage.meta)  # type: ignore[union-attr]
    folder = request.out / "vocoder_gan"
    result = yield from run_stage(stage, folder, ctx, resume=request.resume, force=request.force)
    test: dict[str, float] = {}
    if ctx.is_main:
        generator = stage.model.generator  # type: ignore[union-attr]
        save_model(
            request.out / "vocoder",
            VOCODER_KIND,
            preset.vocoder.vocoder,
            generator.state_dict(),
            {**meta, "step": result["step"], "trained_in": folder.name},
        )
        yield Progress("vocoder: test speakers", 0, 1, unit="set")
        mel = LogMel(preset.vocoder.vocoder.mel)
        test = vocoder_scores(generator, mel, _audio(corpus, "test")[:32], codec, "test_")
        write_metrics(folder / "metrics.json", {"history": result["history"], "test": test})
    barrier(ctx)
    return {"history": result["history"], "test": test}


def train_dit(
    request: TrainRequest,
    preset: AcousticPreset,
    corpus: SemanticCorpus,
    ctx: DistributedContext,
    name: str = "dit",
) -> Job[dict[str, Any]]:
    """Train the face-style adapter + Style-DiT on codec tokens under units and lip features,
    into RUN/<name> (`dit`, or `dit_voice` for identity overrides)."""
    from imagintalk_plugin.audio import SpeakerEncoder
    from imagintalk_plugin.pipeline.semantic_models import load_aligner, load_units, require_stage
    from imagintalk_plugin.training.acoustic_data import fit_expression_stats, voice_items
    from imagintalk_plugin.training.loops.dit_training import dit_scores, dit_stage

    folder = request.out / name
    check_fresh(folder, request)  # before the slow inputs, as train_vocoder does
    units = load_units(request.out)
    require_stage(request.out, "aligner", "aligner")
    aligner = load_aligner(request.out, units, str(ctx.device))
    codec, codec_id = load_codec(request.out, str(ctx.device))
    train = corpus.split("train")
    stats = fit_expression_stats(train)
    encoder = SpeakerEncoder()
    splits = {}
    bank = _voice_bank(preset, train, _voice_settings(request))
    seed = preset.dit_train.seed
    for split in ("train", "valid", "test"):
        utts = corpus.split(split)
        # training clips take their units from another voice: see synth.voice_bank
        content = bank if split == "train" else None
        splits[split] = yield from voice_items(
            utts, units, aligner, codec, stats, encoder, content, seed
        )
    if bank is not None and preset.voice_only_utterances:
        kept = request.out / f"{name}_bank"  # the bank's speech, kept as it is made
        splits["train"] = splits["train"] + (
            yield from _voice_only(preset, bank, units, codec, encoder, kept)
        )
    meta = _meta(
        request,
        preset,
        codec_id=codec_id,
        codebook_id=units.codebook_id,
        codebook_version=units.codebook_version,
        aligner_id=weights_digest(aligner),
        expression_mean=stats.mean.tolist(),
        expression_std=stats.std.tolist(),
        voice_only_speakers=preset.voice_only_speakers,
        voice_only_utterances=preset.voice_only_utterances,
    )
    stage = dit_stage(preset.generator, preset.dit_train, splits["train"], splits["valid"], meta)
    result = yield from run_stage(stage, folder, ctx, resume=request.resume, force=request.force)
    test: dict[str, float] = {}
    if ctx.is_main:
        yield Progress("style-dit: test speakers", 0, 1, unit="set")
        size = 2 * preset.dit_train.max_frames
        test = dit_scores(stage.model, splits["test"], size, "test_")  # type: ignore[arg-type]
        test_utts = corpus.split("test")
        for name in corpus.corpora() if len(corpus.corpora()) > 1 else []:
            part = [it for it, u in zip(splits["test"], test_utts, strict=True) if u.corpus == name]
            if part:
                test.update(dit_scores(stage.model, part, size, f"test@{name}_"))  # type: ignore[arg-type]
        write_metrics(folder / "metrics.json", {"history": result["history"], "test": test})
    return {"history": result["history"], "test": test}


def _voice_settings(request: TrainRequest) -> tuple[VoiceRule, VoiceEngine]:
    """The voice rule and engine of the first synthetic corpus among the sources (its
    speakers.jsonl says them); "still" and espeak-ng when none says (real corpora have no
    rule)."""
    for source in request.sources:
        manifest = source.manifest
        manifest = manifest / "manifest.jsonl" if manifest.is_dir() else manifest
        if (manifest.parent / "speakers.jsonl").exists():
            return corpus_voice_rule(manifest), corpus_voice_engine(manifest)
    return "still", "espeak"


def _voice_bank(preset: AcousticPreset, train: list, voices: tuple[VoiceRule, VoiceEngine]) -> Any:
    """The preset's speakers without video, their faces drawn near the training faces and
    voiced by the corpus's rule and engine (None when the preset has none)."""
    import numpy as np

    from imagintalk_plugin.synth.voice_bank import FaceDistribution, VoiceBank

    if preset.voice_only_speakers < 2:
        return None
    faces = FaceDistribution.fit(np.stack([u.face_embedding for u in train]))
    return VoiceBank.draw(faces, preset.voice_only_speakers, preset.dit_train.seed, *voices)


def _voice_only(
    preset: AcousticPreset, bank: Any, units: Any, codec: Any, encoder: Any, cache: Path
) -> Job[list]:
    """The DiT's items from the bank's speakers without video (their speech kept in
    `cache`, so a stopped stage does not render it again)."""
    from imagintalk_plugin.synth.voice_bank import voice_only_utterances
    from imagintalk_plugin.training.acoustic_data import voice_only_items

    utterances = yield from voice_only_utterances(
        bank, preset.voice_only_utterances, preset.dit_train.seed, cache=cache
    )
    config = preset.generator
    return (
        yield from voice_only_items(
            utterances,
            units,
            codec,
            encoder,
            config.dit.lip_dim,
            config.adapter.expression_dim,
        )
    )


def with_voice_bank(preset: AcousticPreset, speakers: int | None) -> AcousticPreset:
    """The preset with `speakers` speakers without video, 8 utterances each (`--voice-bank`)."""
    if speakers is None:
        return preset
    if speakers == 1 or speakers < 0:
        raise UsageError(f"--voice-bank needs 0 or at least 2 speakers, not {speakers}")
    return replace(preset, voice_only_speakers=speakers, voice_only_utterances=8 * speakers)


def with_lip_drop(preset: AcousticPreset, share: float | None) -> AcousticPreset:
    """The preset whose DiT trains `share` of its items with the lip features zeroed
    (`--lip-drop`; `GeneratorConfig.lip_drop`)."""
    if share is None:
        return preset
    if not 0.0 <= share <= 1.0:
        raise UsageError(f"--lip-drop must be between 0 and 1, not {share}")
    return replace(preset, generator=replace(preset.generator, lip_drop=share))


def with_dit_options(preset: AcousticPreset, request: TrainRequest) -> AcousticPreset:
    """The preset with the request's DiT options (`--voice-bank`, `--lip-drop`) applied; a
    usage error for a value out of range (`run_training` refuses them on other stages).
    `dit-voice` takes the preset's `voice_dit_*` values for the options not given."""
    bank, lip_drop = request.voice_bank, request.lip_drop
    if request.stage == "dit-voice":
        bank = preset.voice_dit_speakers if bank is None else bank
        lip_drop = preset.voice_dit_lip_drop if lip_drop is None else lip_drop
    return with_lip_drop(with_voice_bank(preset, bank), lip_drop)


def run_acoustic_stage(
    request: TrainRequest, corpus: SemanticCorpus, ctx: DistributedContext
) -> Job[dict[str, Any]]:
    """Job: the acoustic stage `request.stage` with the preset of the same name."""
    from imagintalk_plugin.training.acoustic_presets import acoustic_preset
    from imagintalk_plugin.training.voice_evaluation import evaluate_voice

    runners = {
        "codec": train_codec,
        "vocoder": train_vocoder,
        "dit": train_dit,
        "dit-voice": partial(train_dit, name=OVERRIDE_DIT),
        "evaluate-voice": evaluate_voice,
    }
    preset = with_steps(acoustic_preset(request.preset), request.stage, request.steps)
    preset = with_dit_options(preset, request)
    return (yield from runners[request.stage](request, preset, corpus, ctx))
