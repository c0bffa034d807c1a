"""The `lag` judge: loudness-envelope lag and correlation, generated speech vs the recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from evaluation_fixtures import VOICES, speak_words, write_wav
from real_manifest_fixtures import decode_audio, real_style_corpus

from imagintalk_plugin.audio import SAMPLE_RATE, load_audio
from imagintalk_plugin.core.manifest import read_manifest
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.evaluation.envelope_lag import LagJudge, envelope_lag, loudness_envelope
from imagintalk_plugin.evaluation.report import EvalReport, format_table
from imagintalk_plugin.evaluation.scoring import run_eval

LINE = ["bin", "blue", "at", "f", "two", "now"]


def _shifted(samples: np.ndarray, ms: float, seed: int = 0) -> np.ndarray:
    """`samples` `ms` later (earlier if negative), same length, with a faint noise floor."""
    n = round(ms * SAMPLE_RATE / 1000)
    moved = np.roll(samples, n)
    if n > 0:
        moved[:n] = 0.0
    elif n < 0:
        moved[n:] = 0.0
    noise = 0.002 * np.random.default_rng(seed).standard_normal(len(moved))
    return (moved + noise).astype(np.float32)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """A GRID line with half a second of silence either side."""
    pad = np.zeros(SAMPLE_RATE // 2, np.float32)
    return np.concatenate([pad, speak_words(LINE, VOICES["s01"], "grid"), pad])


@pytest.mark.parametrize("ms", [-163.0, -37.0, 0.0, 23.0, 88.0, 142.0])
def test_known_delay_gives_that_lag_with_the_sign(speech: np.ndarray, ms: float) -> None:
    lag, corr, curve = envelope_lag(speech, _shifted(speech, ms))
    assert lag == pytest.approx(ms, abs=10.0)
    assert corr > 0.9
    assert len(curve) == 41  # -200..+200 ms in 10 ms steps


def test_another_voice_a_little_late_still_lines_up(speech: np.ndarray) -> None:
    """The same words in another voice, 100 ms late: the lag sees it, correlation stays high."""
    pad = np.zeros(SAMPLE_RATE // 2, np.float32)
    other = np.concatenate([pad, speak_words(LINE, VOICES["s02"], "grid"), pad])
    lag, corr, _ = envelope_lag(speech, _shifted(other, 100.0))
    assert lag == pytest.approx(100.0, abs=40.0)
    assert corr > 0.7


def test_unrelated_signals_correlate_little(speech: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    gain = np.repeat(rng.uniform(0, 1, len(speech) // 1600 + 1) ** 3, 1600)[: len(speech)]
    babble = (0.2 * gain * rng.standard_normal(len(speech))).astype(np.float32)
    assert envelope_lag(speech, babble)[1] < 0.4
    pad = np.zeros(SAMPLE_RATE // 2, np.float32)
    words = ["lay", "green", "with", "q", "nine", "soon"]
    other_line = np.concatenate([pad, speak_words(words, VOICES["s02"], "grid"), pad])
    assert envelope_lag(speech, other_line)[1] < 0.6


def test_silence_and_too_short_clips_are_nan(speech: np.ndarray) -> None:
    assert np.isnan(envelope_lag(speech, np.zeros_like(speech))[0])
    assert np.isnan(envelope_lag(speech, speech[:1600])[1])
    assert len(loudness_envelope(speech)) == len(speech) // 160


def test_summary_figures() -> None:
    rows = [
        {"lag_ms": -50.0, "lag_corr": 0.5},
        {"lag_ms": 10.0, "lag_corr": 0.7},
        {"lag_ms": 30.0, "lag_corr": 0.9},
        {"lag_ms": 200.0, "lag_corr": 0.1},
        {"lag_ms": float("nan"), "lag_corr": float("nan")},
    ]
    summary = LagJudge().finish(rows)
    assert summary["lag_clips"] == 4
    assert summary["lag_median_ms"] == pytest.approx(20.0)
    assert summary["lag_abs_median_ms"] == pytest.approx(40.0)
    assert summary["lag_within_40ms"] == pytest.approx(0.5)
    assert summary["lag_mean_corr"] == pytest.approx(0.55)
    assert summary["lag_at_limit"] == 1
    assert LagJudge().finish([]) == {"lag_clips": 0}
    report = EvalReport("m", "g", ["lag"], rows, summary=summary)
    table = format_table(report)
    assert "env r" in table
    assert "median +20 ms (generated later if positive)" in table
    assert "1 at the 200 ms limit" in table


def test_eval_command_ceiling_and_a_late_take(tmp_path: Path) -> None:
    """Through `run_eval`: the ceiling is lag 0 / correlation 1; a take written 60 ms late at
    44.1 kHz reads about +60 ms."""
    import soxr

    manifest = real_style_corpus(tmp_path / "corpus", count=3)
    ceiling = drive(run_eval(manifest, ground_truth=True, judges=("lag",))).report
    assert ceiling.summary["lag_median_ms"] == pytest.approx(0.0, abs=1e-6)
    assert ceiling.summary["lag_mean_corr"] == pytest.approx(1.0)
    assert ceiling.summary["lag_within_40ms"] == 1.0
    folder = tmp_path / "generated"
    for entry in read_manifest(manifest):
        late = np.concatenate([np.zeros(960, np.float32), load_audio(entry.audio)])
        write_wav(folder / f"{entry.id}.wav", soxr.resample(late, SAMPLE_RATE, 44100), 44100)
    report = drive(run_eval(manifest, folder, judges=("lag",))).report
    assert report.summary["lag_median_ms"] == pytest.approx(60.0, abs=10.0)
    assert report.summary["lag_within_40ms"] == 0.0
    assert report.means["lag_corr"] > 0.95


@pytest.mark.realdata
def test_real_recording_delayed_and_another_clip(realdata: Path) -> None:
    """GRID s1's own recordings: 120 ms late reads +120 ms, 70 ms early -70 ms; another of his
    lines reads a clearly lower correlation."""
    folder = realdata / "grid-s1" / "video"
    if not (folder / "bbaf2n.mp4").is_file():
        pytest.skip(f"{folder} not in the shared real data")
    first, second = decode_audio(folder / "bbaf2n.mp4"), decode_audio(folder / "bbal6n.mp4")
    for ms in (120.0, -70.0):
        lag, corr, _ = envelope_lag(first, _shifted(first, ms))
        assert lag == pytest.approx(ms, abs=10.0)
        assert corr > 0.9
    low = envelope_lag(first, second)[1]
    assert low < 0.75
    assert envelope_lag(first, _shifted(first, 120.0))[1] > low + 0.2
