"""Clips batched through the stages: every take equals the take made alone.

`speak_tracks` pads windows of several clips (different lengths, a long clip in windows, a
face-less stretch, per-clip seeds and overrides) into one batch per stage; each clip must get
the units, flags, codec tokens and audio that `speak_track` gives it alone, on torch and on
onnxruntime. The sampler's per-item seeds are checked on their own first.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import torch
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.progress import Progress, drive
from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend.expressions import EXPRESSION_FEATURES
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings, sample
from imagintalk_plugin.pipeline import dubbing
from imagintalk_plugin.pipeline.dub_models import DubModels, load_dub_models, make_stages
from imagintalk_plugin.pipeline.dubbing import DubRequest, dub_timeline
from imagintalk_plugin.pipeline.speech import ClipSpeech, SpeechSettings, speak_track, speak_tracks
from imagintalk_plugin.pipeline.voice_generation import VoiceOverrides
from imagintalk_plugin.runtime.stages import Stages
from imagintalk_plugin.timeline.bwf import read_wav

SETTINGS = SpeechSettings(sampler=SamplerSettings(steps=3), window_s=2.0, overlap_s=0.5)


def _track(clip_id: str, frames: int, seed: int, faceless: slice | None = None) -> LipTrack:
    rng = np.random.default_rng(seed)
    valid = np.ones(frames, bool)
    if faceless is not None:
        valid[faceless] = False
    return LipTrack(
        clip_id=clip_id,
        fps=25.0,
        start=RationalTime(0, 25),
        mouth_crops=rng.integers(0, 255, (frames, 96, 96), dtype=np.uint8),
        landmarks=np.zeros((frames, 68, 2), np.float32),
        valid=valid,
        face_embedding=rng.standard_normal(128).astype(np.float32),
        expressions=rng.standard_normal((frames, len(EXPRESSION_FEATURES))).astype(np.float32),
    )


def _requests() -> list[tuple[LipTrack, SpeechSettings]]:
    """Four clips: short, long (three windows, the middle one without a face), another
    seed and a faster speed, so the batch pads every axis it can."""
    fast = replace(SETTINGS.overrides, seed=7, speed_factor=1.25, emotion="happy")
    return [
        (_track("a", 23, 1), SETTINGS),
        (_track("b", 110, 2, faceless=slice(36, 100)), SETTINGS),  # window 2 has no face
        (_track("c", 40, 3), replace(SETTINGS, overrides=replace(SETTINGS.overrides, seed=3))),
        (_track("d", 31, 4), replace(SETTINGS, overrides=fast)),
    ]


def _assert_same_take(alone: ClipSpeech, batched: ClipSpeech) -> None:
    assert batched.clip_id == alone.clip_id
    np.testing.assert_array_equal(batched.units.tokens, alone.units.tokens)
    np.testing.assert_array_equal(batched.refined.tokens, alone.refined.tokens)
    np.testing.assert_allclose(batched.error_prob, alone.error_prob, atol=1e-5)
    codes_agree = np.mean(batched.codes.tokens == alone.codes.tokens)
    assert codes_agree >= 0.99, f"{batched.clip_id}: only {codes_agree:.1%} codec tokens agree"
    assert len(batched.waveform.samples) == len(alone.waveform.samples)
    if codes_agree == 1.0:
        np.testing.assert_allclose(batched.waveform.samples, alone.waveform.samples, atol=1e-4)
    assert batched.take == alone.take


def _both_ways(models: DubModels, stages: Stages, batch_size: int) -> None:
    requests = _requests()
    alone = [drive(speak_track(models, stages, t, s)) for t, s in requests]
    seen: list[Progress] = []
    batched = drive(speak_tracks(models, stages, requests, batch_size), seen.append)
    for one, many in zip(alone, batched, strict=True):
        _assert_same_take(one, many)
    generated = [p for p in seen if p.stage == "style-dit" and p.message]
    assert generated, "no progress named a batch of several windows"
    assert any(p.stage == "silence" and p.clip_id == "b" for p in seen)


def test_sampler_seeds_per_item_give_each_item_its_tokens_alone() -> None:
    torch.manual_seed(0)
    table = torch.randn(4, 9, 6)  # logits depend on the item and the position only

    def logits_for(items: list[int], length: int):
        def fn(codes: torch.Tensor, ratio: torch.Tensor, conditional: bool) -> torch.Tensor:
            return table[items, None, :length].expand(-1, 2, -1, -1) + 0.1 * codes[..., None]

        return fn

    settings = SamplerSettings(steps=4, guidance=1.0)
    pad = torch.zeros(3, 9, dtype=torch.bool)
    pad[1, 5:] = True
    batched = sample(logits_for([0, 1, 2], 9), 3, 2, 9, 6, settings, pad, seeds=[11, 12, 13])
    for b, (seed, length) in enumerate([(11, 9), (12, 5), (13, 9)]):
        alone = sample(logits_for([b], length), 1, 2, length, 6, replace(settings, seed=seed))
        assert torch.equal(batched[b, :, :length], alone[0])
    assert not batched[1, :, 5:].any()
    with pytest.raises(ValueError, match="2 seeds for a batch of 3"):
        sample(logits_for([0, 1, 2], 9), 3, 2, 9, 6, settings, pad, seeds=[1, 2])


def test_clips_batched_on_torch_speak_as_they_do_alone(checkpoint: Path) -> None:
    models = load_dub_models(checkpoint, "cpu")
    _both_ways(models, make_stages(models), batch_size=3)


def test_clips_batched_on_onnxruntime_speak_as_they_do_alone(
    checkpoint: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "ckpt"
    shutil.copytree(checkpoint, exported)
    args = ["export-onnx", "--checkpoint", str(exported), "--out", str(exported / "onnx")]
    assert main(args) == 0
    models = load_dub_models(exported, "cpu")
    _both_ways(models, make_stages(models, "onnx"), batch_size=8)


def test_a_batch_size_below_one_is_refused(checkpoint: Path) -> None:
    models = load_dub_models(checkpoint, "cpu")
    with pytest.raises(ValueError, match="batch size must be at least 1"):
        drive(speak_tracks(models, make_stages(models), [(_track("a", 10, 0), SETTINGS)], 0))


def test_overrides_differ_within_a_batch_but_sampler_settings_do_not(checkpoint: Path) -> None:
    """Windows with other sampler settings go to another batch: each still matches alone."""
    models = load_dub_models(checkpoint, "cpu")
    stages = make_stages(models)
    other = replace(SETTINGS, sampler=SamplerSettings(steps=2, guidance=1.0))
    voice = VoiceOverrides(reference_voice=np.ones(256, np.float32) / 16.0, seed=5)
    requests = [
        (_track("a", 30, 1), other),
        (_track("b", 30, 2), replace(SETTINGS, overrides=voice)),
        (_track("c", 20, 3), other),
    ]
    batched = drive(speak_tracks(models, stages, requests, batch_size=4))
    for (track, settings), many in zip(requests, batched, strict=True):
        _assert_same_take(drive(speak_track(models, stages, track, settings)), many)


def _two_clip_timeline(videos: list[Path], folder: Path) -> Path:
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for index, path in enumerate(videos[:2]):
        track.append(
            otio.schema.Clip(
                name=f"line {index + 1}",
                media_reference=otio.schema.ExternalReference(target_url=path.as_uri()),
                source_range=TimeRange(RationalTime(index, 25), RationalTime(20 + 5 * index, 25)),
            )
        )
    timeline = otio.schema.Timeline(name="scene")
    timeline.tracks.append(track)
    path = folder / "scene.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def _dub_audio(timeline: Path, output: Path, checkpoint: Path, batch: int) -> list[np.ndarray]:
    output.parent.mkdir()
    args = ["dub", str(timeline), "-o", str(output), "--checkpoint", str(checkpoint)]
    assert main([*args, "--steps", "2", "--quiet", "--batch-size", str(batch)]) == 0
    wavs = sorted((output.parent / f"{output.stem}_dialogue").glob("*.wav"))
    assert len(wavs) == 2
    return [read_wav(w).samples for w in wavs]


def test_dub_in_batches_writes_the_takes_it_writes_one_by_one(
    videos: list[Path], checkpoint: Path, tmp_path: Path
) -> None:
    timeline = _two_clip_timeline(videos, tmp_path)
    alone = _dub_audio(timeline, tmp_path / "one" / "a.otio", checkpoint, 1)
    together = _dub_audio(timeline, tmp_path / "two" / "a.otio", checkpoint, 2)
    for one, both in zip(alone, together, strict=True):
        np.testing.assert_allclose(both, one, atol=1e-3)
    assert main(["dub", str(timeline), "-o", str(tmp_path / "x.otio"), "--batch-size", "0"]) == 2


def test_a_batch_that_fails_is_retried_clip_by_clip(
    videos: list[Path], checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One take of one clip breaks generation: the batch fails, each take is retried alone,
    and only that clip is reported failed (its other take succeeding does not hide it)."""
    real = dubbing.speak_tracks

    def breaks_on_line_2(models, stages, requests, batch_size=1, deliver=None):
        if any(t.clip_id == "V1-002" and s.overrides.seed == 0 for t, s in requests):
            raise RuntimeError("out of memory")
        return (yield from real(models, stages, requests, batch_size, deliver))

    monkeypatch.setattr(dubbing, "speak_tracks", breaks_on_line_2)
    models = load_dub_models(checkpoint, "cpu")
    timeline = _two_clip_timeline(videos, tmp_path)
    request = DubRequest(timeline, tmp_path / "out.otio", takes=2, batch_size=4)
    report = drive(dub_timeline(request, lambda: (models, make_stages(models))))
    assert [(o.clip_id, o.status) for o in report.outcomes] == [
        ("V1-001", "done"),
        ("V1-002", "failed"),
    ]
    assert report.failed[0].error == "RuntimeError: out of memory"
    assert [p.name for p in report.outcomes[0].files] == [
        "V1-001_line_1_take1.wav",
        "V1-001_line_1_take2.wav",
    ]
    assert report.output is not None
    assert report.output.exists()
