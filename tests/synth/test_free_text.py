"""The open-vocabulary sentences of `--text free`: many, distinct, fixed, speakable, normalised."""

from __future__ import annotations

import re

import numpy as np

from imagintalk_plugin.evaluation import intelligibility, whisper
from imagintalk_plugin.synth.corpus_plan import plan_corpus
from imagintalk_plugin.synth.free_text import MAX_WORDS, MIN_WORDS, SENTENCE_COUNT, free_sentences
from imagintalk_plugin.synth.sentences import free_sentence, say

PLAIN = re.compile(r"[A-Z][a-z]*( [A-Za-z]+)*[.?]")


def test_thousands_of_distinct_sentences_in_a_fixed_order() -> None:
    sentences = free_sentences()
    assert len(sentences) == len(set(sentences)) == SENTENCE_COUNT >= 5000
    assert sentences[:3] == (
        "Our neighbor borrowed an empty ladder in the attic.",
        "The rabbit slept inside the tent early today.",
        "Robert ordered ripe pears last summer.",
    )
    words = {w.strip(".?").lower() for s in sentences for w in s.split()}
    assert len(words) > 400


def test_every_sentence_is_plain_and_passes_the_normalisers() -> None:
    for sentence in free_sentences():
        assert PLAIN.fullmatch(sentence), sentence
        assert MIN_WORDS <= len(sentence.split()) <= MAX_WORDS, sentence
        plain = sentence.lower().rstrip(".?")
        assert whisper.normalise(sentence) == plain, sentence
        assert intelligibility.normalise(sentence) == plain, sentence


def test_free_sentence_is_deterministic_by_seed() -> None:
    def draw(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        return [" ".join(free_sentence(rng)) for _ in range(200)]

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)
    assert len(set(draw(1))) > 190  # drawn from thousands, rarely twice
    plans = plan_corpus(50, 5, seed=3, text_set="free")
    assert plans == plan_corpus(50, 5, seed=3, text_set="free")
    assert all(" ".join(p.words) in free_sentences() for p in plans)
    grid = plan_corpus(5, 5, seed=3, text_set="grid")
    assert all(len(p.words) == 6 for p in grid)  # GRID mode unchanged


def test_espeak_times_every_word_of_a_sample() -> None:
    """Ten sentences per template (they come in turn), every written word timed (all 6,000
    were checked once the same way)."""
    for sentence in free_sentences()[:160]:
        words = sentence.split()
        spoken = say(words, spell_letters=False)
        assert [w.label for w in spoken.words] == [w.rstrip(".?") for w in words]
