"""A long clip's windows go through the aligner and the Style-DiT in bounded batches.

However many windows `speak_tracks` hands over at once (`--batch-size`), on the CPU no
aligner call sees more than `MAX_BATCH_FRAMES` frames and no DiT call more than
`MAX_BATCH_STEPS` steps, so a long clip's peak memory does not grow with its windows; each
window still gets the take it gets alone.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from test_dubbing import _track

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings
from imagintalk_plugin.pipeline import voice_generation, window_batches
from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages
from imagintalk_plugin.pipeline.speech import SpeechSettings, speak_track
from imagintalk_plugin.pipeline.voice_generation import bounded_batches

SETTINGS = SpeechSettings(sampler=SamplerSettings(steps=2), window_s=2.0, overlap_s=0.5)


def test_groups_hold_at_most_the_budget_padded_and_keep_the_order() -> None:
    lengths = [500, 500, 500, 480, 150, 150, 150, 90, 700]
    groups = bounded_batches(lengths, 1200)
    assert [i for g in groups for i in g] == list(range(len(lengths)))
    for group in groups:
        padded = len(group) * max(lengths[i] for i in group)
        assert padded <= 1200 or len(group) == 1
    assert groups == [[0, 1], [2, 3], [4, 5, 6, 7], [8]]
    assert bounded_batches(lengths, None) == [list(range(len(lengths)))]
    assert bounded_batches([], 10) == []
    assert bounded_batches([], None) == []


def test_a_long_clip_on_the_cpu_goes_in_bounded_batches_and_speaks_as_alone(
    checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = load_dub_models(checkpoint, "cpu")
    stages = make_stages(models)
    track = _track(240)  # 2 s windows overlapping by 0.5 s: 6 windows of 50 frames
    alone = drive(speak_track(models, stages, track, SETTINGS, batch_size=1))

    frames_seen: list[int] = []
    steps_seen: list[int] = []

    def aligner(crops: torch.Tensor, pad: torch.Tensor):
        frames_seen.append(crops.shape[0] * crops.shape[1])
        return stages.aligner(crops, pad)

    def dit(codes: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        steps_seen.append(codes.shape[0] * codes.shape[-1])
        return stages.dit(codes, *rest)

    monkeypatch.setattr(window_batches, "MAX_BATCH_FRAMES", 100)  # two windows
    monkeypatch.setattr(voice_generation, "MAX_BATCH_STEPS", 200)
    watched = replace(stages, aligner=aligner, dit=dit)
    batched = drive(speak_track(models, watched, track, SETTINGS, batch_size=8))

    assert len(frames_seen) == 3  # 6 windows, two at a time
    assert max(frames_seen) <= 100, frames_seen
    assert steps_seen
    assert max(steps_seen) <= 200, steps_seen
    np.testing.assert_array_equal(batched.units.tokens, alone.units.tokens)
    np.testing.assert_array_equal(batched.refined.tokens, alone.refined.tokens)
    np.testing.assert_allclose(batched.error_prob, alone.error_prob, atol=1e-5)
    assert np.mean(batched.codes.tokens == alone.codes.tokens) >= 0.99
    assert len(batched.waveform.samples) == len(alone.waveform.samples)
