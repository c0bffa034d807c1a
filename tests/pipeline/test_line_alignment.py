"""A known line (ADR): said by the reference voice as units, then placed on the lips' timing.

The placement is checked on posteriors made to order: the mouth speaks over a known stretch of
the clip, and the line must land there, start and stop with it, and warn when it cannot fit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imagintalk_plugin.core.errors import ModelLoadError, UsageError
from imagintalk_plugin.nn.units import UnitConfig, UnitExtractor
from imagintalk_plugin.pipeline.line_alignment import align_line
from imagintalk_plugin.pipeline.line_table import LineTable, load_line_table
from imagintalk_plugin.pipeline.line_units import clean_line, line_units, rest_weights

K = 8


@pytest.fixture(scope="module")
def extractor() -> UnitExtractor:
    """A tiny MFCC codebook whose unit 0 is the quiet one (low c0)."""
    config = UnitConfig(num_units=K, max_fit_frames=K)
    rng = np.random.default_rng(0)
    centroids = rng.normal(0.0, 0.5, (K, 39)).astype(np.float32)
    centroids[:, 0] = np.linspace(-2.0, 1.0, K)  # unit 0 the quietest, unit 7 the loudest
    import torch

    return UnitExtractor(config, torch.from_numpy(centroids))


def _posteriors(steps: int, speaking: slice, line_units_: np.ndarray, rest: np.ndarray):
    """Log-posteriors that read rest outside `speaking` and the line's words inside it."""
    probs = np.full((steps, K), 0.02)
    probs[:, int(np.argmax(rest))] = 1.0  # rest everywhere ...
    words = line_units_[line_units_ != np.argmax(rest)]
    inside = np.arange(speaking.start, speaking.stop)
    probs[inside] = 0.02
    placed = np.linspace(0, len(words) - 1, len(inside)).round().astype(int)
    probs[inside, words[placed]] = 1.0  # ... but the line's words where the mouth moves
    return np.log(probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def test_line_units_cover_the_words_with_rest_around(extractor: UnitExtractor) -> None:
    line = line_units("bin blue at f two now", extractor)
    assert len(line.units) == len(line.speech)
    assert len(line.samples) // 320 == len(line.units)
    assert not line.speech[:10].any()  # 0.3 s of rest before ...
    assert not line.speech[-10:].any()  # ... and after
    assert 0.8 < line.speech_s < 3.0
    assert [w.label for w in line.words][:2] == ["bin", "blue"]
    loud = np.abs(line.samples[: len(line.units) * 320]).reshape(len(line.units), -1).mean(1)
    assert loud[line.speech].mean() > 5 * loud[~line.speech].mean()  # words where it speaks


def test_rest_weights_mark_the_quiet_units(extractor: UnitExtractor) -> None:
    rest = rest_weights(extractor)
    assert rest[0] > 0.99
    assert rest[-1] < 0.01
    assert np.all(np.diff(rest) <= 0)


@pytest.mark.parametrize("text", ["", "   ", "...", "x" * 2001])
def test_an_empty_or_huge_line_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        clean_line(text)


def test_clean_line_keeps_the_words() -> None:
    assert clean_line("  Lay blue\n at X  four now ") == "Lay blue at X four now"


def test_the_line_lands_where_the_mouth_moves(extractor: UnitExtractor) -> None:
    line = line_units("bin blue at f two now", extractor)
    rest = rest_weights(extractor)
    steps, speaking = 200, slice(80, 160)  # 4 s clip, the mouth moves from 1.6 s to 3.2 s
    log_probs = _posteriors(steps, speaking, line.units, rest)
    fit = align_line(line, log_probs, rest)
    spoken = np.flatnonzero(fit.speech)
    assert len(fit.units) == steps
    assert abs(spoken[0] - speaking.start) <= 6  # starts with the mouth (within 120 ms)
    assert abs(spoken[-1] - (speaking.stop - 1)) <= 6  # and stops with it
    assert np.all(np.diff(fit.source) >= 0)  # the line is said in order
    assert fit.source[0] == 0
    assert fit.source[-1] == len(line.units) - 1
    assert fit.warning is None
    assert 1.0 < fit.stretch < 2.0  # 1.6 s of mouth for about 1.2 s of reference words


def test_faceless_steps_count_as_rest(extractor: UnitExtractor) -> None:
    line = line_units("bin blue", extractor)
    rest = rest_weights(extractor)
    log_probs = np.full((150, K), np.log(1.0 / K), np.float32)  # the lips say nothing clear
    valid = np.zeros(150, bool)
    valid[50:100] = True
    fit = align_line(line, log_probs, rest, valid)
    assert not fit.speech[:40].any()
    assert not fit.speech[110:].any()


def test_a_line_too_long_or_a_still_mouth_gets_the_closest_fit_and_a_warning(
    extractor: UnitExtractor,
) -> None:
    rest = rest_weights(extractor)
    long_line = line_units("bin blue at f two now " * 4, extractor)
    log_probs = _posteriors(150, slice(50, 90), long_line.units, rest)
    fit = align_line(long_line, log_probs, rest)
    assert fit.warning is not None
    assert "long" in fit.warning
    assert len(fit.units) == 150
    still = np.full((150, K), -8.0, np.float32)
    still[:, 0] = 0.0  # rest all along
    fit = align_line(line_units("bin blue", extractor), still, rest)
    assert fit.warning is not None
    assert "barely moves" in fit.warning


def test_a_table_picks_the_units_both_line_and_lips_support(extractor: UnitExtractor) -> None:
    line = line_units("bin blue at f two now", extractor)
    rest = rest_weights(extractor)
    log_probs = _posteriors(200, slice(60, 150), line.units, rest)
    shift = np.roll(np.eye(K), 1, axis=1)  # the recorded voice says unit u+1 for unit u
    table = LineTable.from_counts(shift * 1000, "c", {}).table
    fit = align_line(line, log_probs, rest, table=table, lip_weight=0.0)
    said = line.units[fit.source]
    assert np.array_equal(fit.units, (said + 1) % K)


def test_line_table_round_trip_and_codebook_check(tmp_path: Path) -> None:
    counts = np.arange(16, dtype=np.float64).reshape(4, 4)
    LineTable.from_counts(counts, "mfcc-k4-abc", {"clips": 3}).save(tmp_path)
    loaded = load_line_table(tmp_path, "mfcc-k4-abc")
    assert loaded is not None
    assert np.allclose(loaded.table.sum(axis=1), 1.0)
    assert loaded.table[3].argmax() == 3
    assert loaded.meta == {"clips": 3}
    assert load_line_table(tmp_path / "elsewhere", "mfcc-k4-abc") is None
    with pytest.raises(ModelLoadError, match="fitted for units"):
        load_line_table(tmp_path, "mfcc-k4-other")
