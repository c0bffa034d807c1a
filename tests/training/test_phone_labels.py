"""Rough phone spans of word-timed real clips: espeak-ng's phonemes spread over each word."""

from __future__ import annotations

import pytest

from imagintalk_plugin.training.phone_labels import word_phone_spans


def test_each_word_shares_its_span_among_its_phonemes() -> None:
    words = ["sil", "bin", "blue", "sp", "now"]
    times = [(0.0, 0.5), (0.5, 0.8), (0.8, 1.0), (1.0, 1.1), (1.1, 1.5)]
    spans = word_phone_spans(words, times)
    assert [p for p, _, _ in spans] == ["b", "'I", "n", "b", "l", "'u:", "n", "'aU"]
    assert spans[0][1] == pytest.approx(0.5)
    assert spans[2][2] == pytest.approx(0.8)
    assert spans[1][2] - spans[1][1] == pytest.approx(0.1)  # "bin": 0.3 s over 3 phonemes
    assert spans[-1][0] == "'aU"
    assert spans[-1][1:] == pytest.approx((1.3, 1.5))
    starts = [s for _, s, _ in spans]
    assert starts == sorted(starts)


def test_untimed_or_regrouped_words_give_no_spans() -> None:
    assert word_phone_spans(["bin", "blue"], []) == ()
    assert word_phone_spans([], []) == ()
    # espeak-ng says "on the" as one word: the words cannot be matched one to one
    assert word_phone_spans(["on", "the", "table"], [(0, 0.2), (0.2, 0.3), (0.3, 0.8)]) == ()
