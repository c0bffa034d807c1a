"""PocketSphinx with the GRID grammar hears espeak-ng GRID sentences; WER/CER scoring."""

from __future__ import annotations

import numpy as np
import pytest
from evaluation_fixtures import VOICES

from imagintalk_plugin.evaluation.intelligibility import (
    Recogniser,
    corpus_error_rates,
    error_rates,
    grid_grammar,
    normalise,
)
from imagintalk_plugin.synth.sentences import HARVARD, grid_sentence, say


def test_grammar_words_are_all_in_the_recogniser_dictionary(recogniser: Recogniser) -> None:
    grammar = grid_grammar()
    body = grammar.split("=", 1)[1]
    words = set(body.replace("(", " ").replace(")", " ").replace(";", " ").split())
    words.discard("|")
    assert {"bin", "blue", "at", "f.", "zed", "two", "now"} <= words
    decoder = recogniser._load()
    assert [w for w in sorted(words) if decoder.lookup_word(w) is None] == []


def test_normalise_maps_letters_and_drops_punctuation() -> None:
    assert normalise("Bin blue at F. two NOW") == "bin blue at f two now"
    assert normalise("set red in zed one soon") == "set red in z one soon"
    assert normalise("It's easy to tell the depth of a well.") == (
        "it's easy to tell the depth of a well"
    )


def test_error_rates() -> None:
    assert error_rates("bin blue at f two now", "bin blue at f. two now") == (0.0, 0.0)
    wer, cer = error_rates("bin blue at f two now", "bin red at f two now")
    assert wer == pytest.approx(1 / 6)
    assert cer == pytest.approx(4 / 21)  # blue -> red: three substitutions, one deletion
    assert error_rates("bin blue", "") == (1.0, 1.0)
    assert corpus_error_rates(["a b c d", "e f"], ["a b c d", ""])[0] == pytest.approx(2 / 6)


def test_grid_sentences_are_heard_and_wrong_transcripts_are_not(recogniser: Recogniser) -> None:
    rng = np.random.default_rng(7)
    refs, heard = [], []
    for i in range(12):
        words = grid_sentence(rng)
        voice = VOICES[("s01", "s02", "s03")[i % 3]]
        refs.append(" ".join(words))
        heard.append(normalise(recogniser.transcribe(say(words, voice).samples, "grid")))
    wer, cer = corpus_error_rates(refs, heard)
    assert wer < 0.15, list(zip(refs, heard, strict=True))
    assert cer < 0.10
    shuffled = refs[1:] + refs[:1]  # each transcript scored against another sentence
    assert corpus_error_rates(shuffled, heard)[0] > 0.5


def test_free_text_goes_through_the_language_model(recogniser: Recogniser) -> None:
    samples = say(HARVARD[1].rstrip(".").split(), VOICES["s01"]).samples
    heard = normalise(recogniser.transcribe(samples, "free"))
    assert len(heard.split()) >= 4
    assert error_rates(HARVARD[1], heard)[0] < 1.0  # an old small recogniser: some words right
    grid_only = set(grid_grammar().replace("(", " ").replace(")", " ").split())
    assert not set(heard.split()) <= grid_only  # not forced into the GRID vocabulary


def test_silence_gives_an_empty_or_short_transcript(recogniser: Recogniser) -> None:
    heard = recogniser.transcribe(np.zeros(16000, np.float32), "free")
    assert len(heard.split()) <= 1
