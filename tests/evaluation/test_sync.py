"""Sync judge: the lag between speech energy and mouth opening, synthetic and on real GRID."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from evaluation_fixtures import write_wav

from imagintalk_plugin.audio import SAMPLE_RATE, resample
from imagintalk_plugin.core.manifest import ManifestEntry, Voice
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.evaluation.scoring import run_eval
from imagintalk_plugin.evaluation.sync import (
    lag_correlations,
    mouth_curve,
    peak_lag,
    speech_envelope,
)

FPS = 25.0
SPAN = int(SAMPLE_RATE / FPS)


def _babble(opening: np.ndarray, delay_frames: int) -> np.ndarray:
    """Speech-band noise whose loudness follows `opening`, `delay_frames` later."""
    gain = np.repeat(np.roll(opening, delay_frames), SPAN)
    t = np.arange(len(gain)) / SAMPLE_RATE
    carrier = np.sin(2 * np.pi * 800 * t) + 0.5 * np.sin(2 * np.pi * 1700 * t)
    return (0.3 * gain * carrier).astype(np.float32)


def _syllables(frames: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    opening = np.zeros(frames)
    t = 10
    while t < frames - 15:
        width = int(rng.integers(3, 7))
        opening[t : t + width] = np.hanning(width + 2)[1:-1] * rng.uniform(0.5, 1.0)
        t += width + int(rng.integers(1, 5))
    return opening


@pytest.mark.parametrize("delay", [-3, 0, 2, 5])
def test_lag_of_a_known_delay_is_recovered(delay: int) -> None:
    opening = _syllables(100, seed=delay + 10)
    envelope = speech_envelope(_babble(opening, delay), FPS)
    curve = lag_correlations(envelope, opening, np.ones(len(opening), bool))
    lag, corr = peak_lag(curve)
    assert lag == pytest.approx(delay, abs=0.5)
    assert corr > 0.7


def test_frames_without_a_face_are_left_out() -> None:
    opening = _syllables(100, seed=3)
    valid = np.ones(100, bool)
    valid[40:60] = False
    spoiled = opening.copy()
    spoiled[40:60] = 5.0  # garbage where no face was found
    envelope = speech_envelope(_babble(opening, 0), FPS)
    lag, corr = peak_lag(lag_correlations(envelope, spoiled, valid))
    assert lag == pytest.approx(0, abs=0.5)
    assert corr > 0.7


def test_peak_lag_refines_between_frames() -> None:
    lags = np.arange(-10, 11)
    curve = 1.0 - 0.05 * (lags - 1.3) ** 2
    lag, _ = peak_lag(curve)
    assert lag == pytest.approx(1.3, abs=0.05)
    assert np.isnan(peak_lag(np.full(21, np.nan))[0])


def _grid_audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]
        rate = stream.rate
    samples = np.concatenate(chunks, axis=-1)
    if samples.dtype == np.int16:
        samples = samples.astype(np.float32) / 32768.0
    return resample(samples.mean(axis=0) if samples.ndim == 2 else samples, rate)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["bbaf2n", "lbbc2a", "id2_vcd_swwp2s"])
def test_real_grid_audio_follows_the_mouth_within_a_frame(realdata: Path, name: str) -> None:
    """A real GRID speaker and their own recorded audio: in sync, clearly correlated."""
    path = realdata / "video" / "GRID" / f"{name}.mpg"
    if not path.is_file():
        pytest.skip(f"{path} not in the shared real data")
    mouth = mouth_curve(path, name)
    audio = _grid_audio(path)
    curve = lag_correlations(speech_envelope(audio, mouth.fps), mouth.opening, mouth.valid)
    lag, corr = peak_lag(curve)
    assert abs(lag) <= 1.0
    assert corr > 0.25
    # The same audio 120 ms late: the judge sees it about three frames late.
    late = np.concatenate([np.zeros(3 * SPAN, np.float32), audio])
    late_curve = lag_correlations(speech_envelope(late, mouth.fps), mouth.opening, mouth.valid)
    assert peak_lag(late_curve)[0] == pytest.approx(lag + 3, abs=0.75)


GRID_TEXT = {
    "bbaf2n": "bin blue at f two now",
    "brbk7n": "bin red by k seven now",
    "id2_vcd_swwp2s": "set white with p two soon",
    "lbax4n": "lay blue at x four now",
    "lbbc2a": "lay blue by c two again",
    "lrwp9a": "lay red with p nine again",
}


@pytest.mark.realdata
def test_real_grid_ceiling_through_the_eval_command(realdata: Path, tmp_path: Path) -> None:
    """Six real GRID takes as a manifest: PocketSphinx hears them, audio and mouth in sync."""
    lines = []
    for name, text in GRID_TEXT.items():
        source = realdata / "video" / "GRID" / f"{name}.mpg"
        if not source.is_file():
            pytest.skip(f"{source} not in the shared real data")
        video = tmp_path / "video" / source.name
        video.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, video)
        audio = _grid_audio(source)
        wav = write_wav(tmp_path / "audio" / f"{name}.wav", audio)
        entry = ManifestEntry(
            name, video, wav, text, "grid", (), (), name, Voice("real", 0, 0, 0), "neutral",
            "test", len(audio) / SAMPLE_RATE,
        )  # fmt: skip
        lines.append(entry.to_json(tmp_path))
    (tmp_path / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = drive(run_eval(tmp_path, ground_truth=True, judges=("wer", "sync"))).report
    summary = report.summary
    assert summary["wer_corpus_grid"] < 0.15
    assert abs(summary["sync_pooled_lag_frames"]) <= 1.0
    assert summary["sync_pooled_corr"] > 0.3
    assert summary["sync_within_one_frame"] >= 5 / 6
