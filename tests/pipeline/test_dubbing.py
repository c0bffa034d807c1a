"""`imagintalk dub` and `speak` end to end with a tiny random checkpoint on rendered faces:
dialogue lands frame-exact under its picture as BWF files, an offline clip fails alone, a
rerun reuses finished takes, a cancelled run leaves no partial file, and long clips are
stitched from windows."""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange
from tiny_checkpoint import write_tiny_checkpoint

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.errors import CancelledError, ModelLoadError
from imagintalk_plugin.core.progress import CancelToken, Progress, drive
from imagintalk_plugin.core.signals import LipTrack
from imagintalk_plugin.frontend.expressions import EXPRESSION_FEATURES
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings
from imagintalk_plugin.pipeline.acoustic_models import StyleGenerator
from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages
from imagintalk_plugin.pipeline.dubbing import DubRequest, dub_timeline
from imagintalk_plugin.pipeline.speech import (
    SpeechSettings,
    speak_track,
    take_info,
    window_starts,
)
from imagintalk_plugin.pipeline.voice_generation import VoiceOverrides
from imagintalk_plugin.timeline.bwf import read_bwf_time_reference, read_wav, read_wav_info
from imagintalk_plugin.timeline.reading import read_timeline

RATE = 24  # timeline rate differs from the media's 25 fps on purpose
START = RationalTime.from_timecode("01:00:00:00", RATE)


def _timeline(videos: list[Path], folder: Path) -> Path:
    """V1: two clips with faces at record 10 and 60, and an offline clip at 110."""
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(
        otio.schema.Gap(source_range=TimeRange(RationalTime(0, RATE), RationalTime(10, RATE)))
    )
    for index, path in enumerate([*videos, folder / "missing.mp4"]):
        clip = otio.schema.Clip(
            name=f"line {index + 1}",
            media_reference=otio.schema.ExternalReference(target_url=path.as_uri()),
            source_range=TimeRange(RationalTime(2, RATE), RationalTime(30, RATE)),
        )
        track.append(clip)
        track.append(
            otio.schema.Gap(source_range=TimeRange(RationalTime(0, RATE), RationalTime(20, RATE)))
        )
    timeline = otio.schema.Timeline(name="scene", global_start_time=START)
    timeline.tracks.append(track)
    path = folder / "scene.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def _dub(timeline: Path, output: Path, checkpoint: Path, *extra: str) -> int:
    args = ["dub", str(timeline), "-o", str(output), "--checkpoint", str(checkpoint)]
    return main([*args, "--steps", "2", "--quiet", *extra])


def test_dub_places_takes_under_their_pictures_and_resumes(
    videos: list[Path], checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    timeline = _timeline(videos, tmp_path)
    output = tmp_path / "out" / "scene_dubbed.otio"
    output.parent.mkdir()
    assert _dub(timeline, output, checkpoint) == 1  # the offline clip failed, the rest landed
    report = capsys.readouterr().out
    assert "2 of 3 clip(s) dubbed" in report
    assert "V1-003" in report
    assert "failed" in report

    loaded = read_timeline(output)
    audio = [t for t in loaded.timeline.tracks if t.kind == otio.schema.TrackKind.Audio]
    assert [t.name for t in audio] == ["ImaginTalk Dialogue"]
    placed = list(audio[0].find_clips())
    assert [c.range_in_parent().start_time.value for c in placed] == [10, 60]
    for clip in placed:
        assert clip.range_in_parent().duration.value == 30
        wav = Path(clip.media_reference.target_url.removeprefix("file://"))
        samples = read_wav(wav)
        assert (samples.sample_rate, read_wav_info(wav).bit_depth) == (48000, 24)
        assert samples.num_samples == round(30 / RATE * 48000)  # the clip's length, exactly
        record = clip.range_in_parent().start_time + START
        assert read_bwf_time_reference(wav) == round(record.to_seconds() * 48000)
        assert np.abs(samples.samples).max() > 0  # a face: speech, not silence
        take = json.loads(wav.with_suffix(".take.json").read_text())
        assert (take["seed"], take["backend"]) == (0, "torch")
        assert "tiny_ckpt" in take["model"]
        assert len(take["model_digest"]) == 16
    before = {p: p.stat().st_mtime_ns for p in output.parent.glob("scene_dubbed_dialogue/*take*")}

    assert _dub(timeline, output, checkpoint) == 1  # the same command again resumes
    assert "2 reused" in capsys.readouterr().out
    after = {p: p.stat().st_mtime_ns for p in output.parent.glob("scene_dubbed_dialogue/*take*")}
    assert after == before
    assert _dub(timeline, output, checkpoint, "--force") == 1  # fresh takes, same files
    capsys.readouterr()
    fresh = {p: p.stat().st_mtime_ns for p in output.parent.glob("scene_dubbed_dialogue/*take*")}
    assert fresh.keys() == before.keys()
    assert all(fresh[p] != before[p] for p in before if p.suffix == ".wav")


def test_a_take_records_the_refinement_its_checkpoint_resolves(checkpoint: Path) -> None:
    models = load_dub_models(checkpoint, "cpu")
    settings = SpeechSettings()
    refinement = take_info(models, settings, "torch").settings["refinement"]
    calibration = models.calibration
    assert refinement == {
        "threshold": calibration.threshold,
        "lm_weight": calibration.lm_weight,
        "passes": 1,
        "masking": calibration.masking,
        "model": calibration.model,
    }
    # a recalibrated checkpoint (same weights, same name) makes other takes: never reused
    recalibrated = replace(models, calibration=replace(calibration, masking="runs", lm_weight=0.25))
    assert take_info(recalibrated, settings, "torch") != take_info(models, settings, "torch")
    # an explicit threshold is the editor's, whatever the calibration says
    assert (
        take_info(models, replace(settings, threshold=0.9), "torch").settings["refinement"][
            "threshold"
        ]
        == 0.9
    )


def test_a_take_records_which_style_dit_spoke_it(checkpoint: Path) -> None:
    """`dit_voice` for a replaced identity when the checkpoint has one, `dit` otherwise; a take
    of one is never reused for the other."""
    models = load_dub_models(checkpoint, "cpu")
    plain = SpeechSettings()
    voiced = replace(plain, overrides=VoiceOverrides(reference_voice=np.ones(256, np.float32)))
    voice = models.voice
    with_dit_voice = replace(
        models, voice=replace(voice, override=StyleGenerator(voice.generator, voice.expressions))
    )
    spoken = {
        (name, label): take_info(m, s, "torch").settings["style_dit"]
        for name, m in (("plain", models), ("with", with_dit_voice))
        for label, s in (("face", plain), ("voice", voiced))
    }
    assert spoken == {
        ("plain", "face"): "dit",
        ("plain", "voice"): "dit",
        ("with", "face"): "dit",
        ("with", "voice"): "dit_voice",
    }
    assert take_info(with_dit_voice, voiced, "torch") != take_info(models, voiced, "torch")


def test_a_cancelled_dub_leaves_only_whole_takes(
    videos: list[Path], checkpoint: Path, tmp_path: Path
) -> None:
    timeline = _timeline(videos, tmp_path)
    output = tmp_path / "cut.otio"
    models = load_dub_models(checkpoint, "cpu")
    request = DubRequest(timeline, output, clips=("V1-001", "V1-002"))
    cancel = CancelToken()

    def on_progress(p: Progress) -> None:
        if p.stage == "style-dit" and p.clip_id == "V1-002":
            cancel.cancel()  # inside the second clip, between stages

    with pytest.raises(CancelledError):
        drive(dub_timeline(request, lambda: (models, make_stages(models))), on_progress, cancel)
    files = sorted(p.name for p in (tmp_path / "cut_dialogue").iterdir())
    assert files == ["V1-001_line_1_take1.take.json", "V1-001_line_1_take1.wav"]
    assert not output.exists()


def test_speak_writes_one_wav_and_refuses_to_overwrite(
    videos: list[Path], checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "line.wav"
    args = [
        "speak",
        str(videos[0]),
        "--end",
        "1.0",
        "-o",
        str(out),
        "--checkpoint",
        str(checkpoint),
    ]
    assert main([*args, "--steps", "2", "--quiet", "--seed", "7"]) == 0
    assert "seed 7" in capsys.readouterr().out
    assert read_wav(out).num_samples == 48000  # delivered at 48 kHz
    at_model_rate = tmp_path / "model_rate.wav"
    args_model = [*args[:4], "-o", str(at_model_rate), *args[6:], "--sample-rate", "model"]
    assert main([*args_model, "--steps", "2", "--quiet", "--seed", "7"]) == 0
    assert read_wav(at_model_rate).num_samples == 16000
    assert main([*args, "--quiet"]) == 2
    assert "exists" in capsys.readouterr().err


def _track(frames: int, valid: np.ndarray | None = None) -> LipTrack:
    rng = np.random.default_rng(0)
    return LipTrack(
        clip_id="long",
        fps=25.0,
        start=RationalTime(0, 25),
        mouth_crops=rng.integers(0, 255, (frames, 96, 96), dtype=np.uint8),
        landmarks=np.zeros((frames, 68, 2), np.float32),
        valid=np.ones(frames, bool) if valid is None else valid,
        face_embedding=rng.standard_normal(128).astype(np.float32),
        expressions=rng.standard_normal((frames, len(EXPRESSION_FEATURES))).astype(np.float32),
    )


def test_window_starts_cover_the_clip_with_overlap() -> None:
    assert window_starts(40, 50, 10) == [0]
    assert window_starts(130, 50, 10) == [0, 40, 80]
    starts = window_starts(131, 50, 10)
    assert starts[-1] + 50 == 131
    assert all(b - a <= 40 for a, b in itertools.pairwise(starts))


def test_long_clips_are_stitched_from_windows_and_faceless_frames_are_silent(
    checkpoint: Path,
) -> None:
    models = load_dub_models(checkpoint, "cpu")
    frames = 150  # 6 s in windows of 2 s with 0.5 s overlap: 4 windows
    valid = np.ones(frames, bool)
    valid[100:130] = False  # 1.2 s without a face
    settings = SpeechSettings(sampler=SamplerSettings(steps=2), window_s=2.0, overlap_s=0.5)
    stages = make_stages(models)
    speech = drive(speak_track(models, stages, _track(frames, valid), settings))
    samples = speech.waveform.samples
    assert len(samples) == frames * 640  # 25 fps -> 16 kHz, exactly as long as the picture
    assert len(speech.units.tokens) == len(speech.refined.tokens) == 2 * frames
    assert len(speech.error_prob) == 2 * frames
    assert speech.codes.tokens.shape[1] == 2 * frames
    silent = samples[101 * 640 : 129 * 640]
    assert not silent.any()
    assert np.abs(samples[: 100 * 640]).max() > 0
    one = drive(speak_track(models, stages, _track(frames), replace(settings, window_s=20.0)))
    assert len(one.waveform.samples) == len(samples)


def test_onnx_backend_speaks_like_torch(checkpoint: Path, tmp_path: Path) -> None:
    """export-onnx, then the same clip on both backends: same units, near-identical take."""
    assert main(["export-onnx", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "x")]) == 0
    exported = tmp_path / "ckpt"
    shutil.copytree(checkpoint, exported)
    shutil.copytree(tmp_path / "x", exported / "onnx")
    models = load_dub_models(exported, "cpu")
    settings = SpeechSettings(sampler=SamplerSettings(steps=2))
    track = _track(60)
    by_torch = drive(speak_track(models, make_stages(models, "torch"), track, settings))
    by_onnx = drive(speak_track(models, make_stages(models, "onnx"), track, settings))
    assert by_onnx.take.backend == "onnx"
    assert np.array_equal(by_torch.units.tokens, by_onnx.units.tokens)
    assert np.array_equal(by_torch.refined.tokens, by_onnx.refined.tokens)
    np.testing.assert_allclose(by_torch.error_prob, by_onnx.error_prob, atol=1e-5)
    assert np.mean(by_torch.codes.tokens == by_onnx.codes.tokens) > 0.95


def test_onnx_backend_refuses_an_export_of_other_weights(checkpoint: Path, tmp_path: Path) -> None:
    other = write_tiny_checkpoint(tmp_path / "other", seed=1)
    assert main(["export-onnx", "--checkpoint", str(other)]) == 0
    mixed = tmp_path / "mixed"
    shutil.copytree(checkpoint, mixed)
    shutil.copytree(other / "onnx", mixed / "onnx")
    models = load_dub_models(mixed, "cpu")
    with pytest.raises(ModelLoadError):
        make_stages(models, "onnx")
