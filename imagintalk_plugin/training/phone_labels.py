"""Rough phone spans for real clips that time only their words (GRID's alignments).

The phonetic units' classifier learns from timed phonemes, which only ImaginTalk-Synth has.
Learnt on synthetic voices alone, it carries fewer of a real speaker's phones than MFCC
k-means does (docs/research-notebook.md, "Phone-supervised units"), so real clips with word
timings teach it too: each word's espeak-ng phonemes share the word's span evenly. Real
phones are not evenly long, so these labels are rough, but they are the real voice's.
"""

from __future__ import annotations

from collections.abc import Sequence

from imagintalk_plugin.espeak import ipa_words
from imagintalk_plugin.nn.unit_fitting import PhoneSpan

SILENCE_WORDS = frozenset({"sil", "sp"})  # GRID's alignment marks, not words


def word_phone_spans(
    words: Sequence[str], word_times: Sequence[tuple[float, float]]
) -> tuple[PhoneSpan, ...]:
    """Each timed word's espeak-ng phonemes (its own names, as the corpus labels them) spread
    evenly over the word's span; () without word timings, or where espeak-ng groups the
    words otherwise than the transcript does (it says "on the" as one word)."""
    timed = [
        (w, t) for w, t in zip(words, word_times, strict=False) if w.lower() not in SILENCE_WORDS
    ]
    if not timed or len(word_times) != len(words):
        return ()
    spoken = ipa_words(" ".join(w for w, _ in timed), ipa=False)
    if len(spoken) != len(timed):
        return ()
    spans: list[PhoneSpan] = []
    for (_, (start, end)), phones in zip(timed, spoken, strict=True):
        if not phones or end <= start:
            return ()
        step = (end - start) / len(phones)
        spans.extend((p, start + i * step, start + (i + 1) * step) for i, p in enumerate(phones))
    return tuple(spans)
