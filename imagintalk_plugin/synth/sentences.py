"""What the synthetic speakers say: the GRID grammar, and a free-text set.

GRID sentences are six words: command, colour, preposition, letter, digit, adverb ("bin blue
at f two now"), as in the GRID audio-visual corpus. Letters are said by name, so they are
respelled for espeak-ng ("a" would otherwise be read as the article). The free-text set is
the open vocabulary of `synth.free_text`: 6,000 plain English sentences written for this
project. The first 20 Harvard sentences (IEEE 1969 phonetically balanced lists) stay here for
the tests.
"""

from __future__ import annotations

import numpy as np

from imagintalk_plugin.core.manifest import Segment
from imagintalk_plugin.espeak import EspeakVoice, SpokenText, speak
from imagintalk_plugin.synth.free_text import free_sentences
from imagintalk_plugin.synth.kokoro import KokoroVoice, speak_kokoro

COMMANDS = ("bin", "lay", "place", "set")
COLOURS = ("blue", "green", "red", "white")
PREPOSITIONS = ("at", "by", "in", "with")
LETTERS = tuple("abcdefghijklmnopqrstuvxyz")  # GRID leaves out w
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ADVERBS = ("again", "now", "please", "soon")

LETTER_NAMES = {
    "a": "eigh", "b": "bee", "c": "see", "d": "dee", "e": "ee", "f": "eff", "g": "gee",
    "h": "aitch", "i": "eye", "j": "jay", "k": "kay", "l": "ell", "m": "em", "n": "en",
    "o": "oh", "p": "pee", "q": "cue", "r": "are", "s": "ess", "t": "tee", "u": "you",
    "v": "vee", "x": "ex", "y": "why", "z": "zed",
}  # fmt: skip

HARVARD = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
)


def grid_sentence(rng: np.random.Generator) -> list[str]:
    """One random GRID sentence, as its six words."""
    parts = (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)
    return [str(part[rng.integers(len(part))]) for part in parts]


def free_sentence(rng: np.random.Generator) -> list[str]:
    """One sentence of the free-text set (`free_text.free_sentences`), as its words
    (punctuation kept on the last)."""
    sentences = free_sentences()
    return sentences[rng.integers(len(sentences))].split()


def say(
    words: list[str],
    voice: EspeakVoice | KokoroVoice | None = None,
    *,
    seed: int = 0,
    spell_letters: bool = True,
) -> SpokenText:
    """Speak the words (GRID letters by name unless `spell_letters` is off, as for free text);
    word timings carry the written words.

    A `KokoroVoice` speaks with Kokoro-82M (`synth.kokoro`), any other with espeak-ng.
    Raises ValueError if the engine does not time one word per word.
    """
    spoken = [
        LETTER_NAMES.get(w, w) if spell_letters and len(w) == 1 and w.isalpha() else w
        for w in words
    ]
    if isinstance(voice, KokoroVoice):
        result = speak_kokoro(" ".join(spoken), voice, seed)
    else:
        result = speak(" ".join(spoken), voice, seed)
    if len(result.words) != len(words):
        said = [w.label for w in result.words]
        raise ValueError(f"espeak-ng timed {said} for the words {words}")
    written = [
        Segment(w.rstrip(".,;:!?"), t.start, t.end)
        for w, t in zip(words, result.words, strict=True)
    ]
    return SpokenText(result.samples, result.sample_rate, written, result.phonemes)
