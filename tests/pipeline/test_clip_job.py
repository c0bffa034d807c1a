"""The clip job `dub`, `speak` and the panel's worker share: one take's settings from plain
values (the CLI's options and the panel's style alike), a take's seed, and one clip's job
(timbre, front-end, speech) on a tiny random checkpoint."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from panel_fixtures import write_scene

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import Progress, drive
from imagintalk_plugin.pipeline.clip_job import (
    TimbreSource,
    clip_job,
    read_clip,
    resolve_timbre,
    speak_range,
    speech_settings,
    with_seed,
)
from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages
from imagintalk_plugin.pipeline.speech import SpeechSettings, speak_track
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import read_timeline


def test_plain_values_become_speech_settings() -> None:
    default, plain = SpeechSettings(), speech_settings()  # nothing given: a take's defaults
    assert plain.describe() == default.describe()
    assert (plain.sampler, plain.window_s, plain.overlap_s) == (
        default.sampler,
        default.window_s,
        default.overlap_s,
    )
    face = np.ones(128, np.float32)
    settings = speech_settings(
        steps=4,
        guidance=3.0,
        threshold=0.3,
        emotion="sad",
        pitch=-2.0,
        speed=1.25,
        seed=7,
        face=face,
        timbre={"source": "clip face", "clip_id": "V1-002"},
    )
    assert (settings.sampler.steps, settings.sampler.guidance) == (4, 3.0)
    assert settings.sampler.temperature == SpeechSettings().sampler.temperature
    assert settings.threshold == 0.3
    o = settings.overrides
    assert (o.emotion, o.pitch_offset_semitones, o.speed_factor, o.seed) == ("sad", -2.0, 1.25, 7)
    assert (o.face is face, o.reference_voice) == (True, None)
    assert settings.timbre == (("source", "clip face"), ("clip_id", "V1-002"))
    pairs = (("source", "reference audio"), ("path", "/takes/ref.wav"))
    assert speech_settings(timbre=pairs).timbre == pairs  # the CLI's Timbre.record as it is
    assert speech_settings(timbre=dict(pairs)).timbre == pairs  # the panel's record as a dict


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"emotion": "bored"}, "emotion 'bored'"),
        ({"speed": 10.0}, "speed factor"),
        ({"pitch": 30.0}, "pitch offset"),
        ({"threshold": 1.5}, "threshold"),
        ({"steps": 0}, "steps"),
    ],
)
def test_a_bad_value_is_a_one_line_usage_error(values: dict, reason: str) -> None:
    with pytest.raises(UsageError, match=reason) as caught:
        speech_settings(**values)
    assert "\n" not in str(caught.value)


def test_with_seed_changes_the_seed_only() -> None:
    settings = speech_settings(steps=3, emotion="happy", seed=1)
    seeded = with_seed(settings, 9)
    assert seeded.overrides.seed == 9
    by_hand = replace(settings, overrides=replace(settings.overrides, seed=9))
    assert seeded.describe() == by_hand.describe()
    assert seeded.describe() == settings.describe() | {"sampler": by_hand.describe()["sampler"]}
    assert settings.overrides.seed == 1  # frozen: the original is unchanged


def test_one_clip_job_reads_resolves_and_speaks(
    videos: list[Path], checkpoint: Path, tmp_path: Path
) -> None:
    clips = list_clips(read_timeline(write_scene(videos, tmp_path)))
    first, second = clips[0], clips[1]
    models = load_dub_models(checkpoint, "cpu")
    stages = make_stages(models)
    settings = speech_settings(steps=2, seed=4)

    steps: list[Progress] = []
    made = drive(clip_job(models, stages, first, settings), steps.append)
    assert made.track.clip_id == first.clip_id
    assert steps[0].stage in ("faces", "cache")  # the front-end first, then the speech
    assert "style-dit" in [s.stage for s in steps]
    # the same take speak_track makes from the same lips: the job adds no step of its own
    alone = drive(speak_track(models, stages, made.track, settings))
    np.testing.assert_array_equal(made.speech.waveform.samples, alone.waveform.samples)
    assert made.speech.take == alone.take

    steps.clear()  # lips already read: no front-end
    again = drive(clip_job(models, stages, first, settings, track=made.track), steps.append)
    assert again.track is made.track
    assert all(s.stage not in ("faces", "mouth crops", "cache") for s in steps)
    np.testing.assert_array_equal(again.speech.waveform.samples, alone.waveform.samples)
    assert drive(read_clip(first, track=made.track)) is made.track

    # another clip's face as the timbre: its front-end steps count as the running clip's
    other = drive(read_clip(second))
    steps.clear()
    face, voice = drive(resolve_timbre(first.clip_id, TimbreSource(face_clip=second)), steps.append)
    assert voice is None
    np.testing.assert_allclose(face, other.face_embedding)
    assert steps
    assert all(s.clip_id == first.clip_id for s in steps)
    assert all(s.message == f"face of {second.clip_id}" for s in steps)
    assert drive(resolve_timbre(first.clip_id, None)) == (None, None)
    recorded = speech_settings(steps=2, seed=4, timbre={"source": "clip face", "clip_id": "x"})
    timbre = TimbreSource(face_clip=second, face_track=other)
    voiced = drive(clip_job(models, stages, first, recorded, timbre=timbre, track=made.track))
    assert voiced.speech.take.settings["other_face"] is True
    assert voiced.speech.take.settings["timbre"] == {"source": "clip face", "clip_id": "x"}

    offline = clips[2]
    with pytest.raises(UsageError, match=f"timbre from {offline.clip_id}'s face"):
        drive(resolve_timbre(first.clip_id, TimbreSource(face_clip=offline)))


def test_speak_range_voices_a_file_range(videos: list[Path], checkpoint: Path) -> None:
    models = load_dub_models(checkpoint, "cpu")
    stages = make_stages(models)
    speech = drive(speak_range(models, stages, videos[0], speech_settings(steps=2), 0.0, 1.0))
    assert speech.clip_id == videos[0].name
    assert abs(speech.waveform.num_samples - 16000) <= 640  # one second, to a 25 fps frame
