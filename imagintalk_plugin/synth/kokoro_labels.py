"""Kokoro speech's phoneme labels and final timing, made like espeak-ng's.

Labels. A Kokoro utterance is phonemised once in IPA (what Kokoro reads) and once in
espeak-ng's own phoneme names (what the corpus's labels, visemes and phoneme set use). The
two readings do not always split a word alike: the names reading has markers of its own
(";" after a palatalised consonant, ":" lengthening) and shares merged function words out
differently ("that the" -> "D a t D" + "I2"). Before, one such word sent the whole sentence
back to IPA labels, which the viseme table does not know (19% of the Kokoro free-text corpus's
clips, 10% of its phonemes). Now each word keeps its names when, markers dropped, they pair
one to one with its IPA phonemes; otherwise each IPA phoneme is given its espeak-ng name
from `IPA_TO_NAME`.

Final timing. Kokoro's duration for the last phoneme runs on over the silence after it (a
median 0.44 s after the speech ends, on 40 clips): a face animated from it holds its last
mouth shape in silence. `speech_end` finds where the speech really ends, and the last
phoneme and word are cut there.
"""

from __future__ import annotations

import numpy as np

STRESS = {"ˈ": "'", "ˌ": ","}
MARKERS = (";", ":", "#", "-", "|")  # names-reading tokens that are not phonemes

# espeak-ng's IPA (length marks kept, stress marks removed) -> espeak-ng's phoneme names
IPA_TO_NAME = {
    # vowels and diphthongs
    "æ": "a", "a": "a", "ɐ": "a#", "ɑː": "A:", "ɑ": "A:", "ɑːɹ": "A@", "ʌ": "V", "ə": "@",
    "əl": "@L", "ɚ": "3", "ɜː": "3:", "ɜ": "3:", "ɛ": "E", "ɛɹ": "e@", "eə": "e@", "e": "e",
    "eɪ": "eI", "ɪ": "I", "ᵻ": "I2", "ɪɹ": "i@3", "iə": "i@", "i": "i", "iː": "i:",
    "ʊ": "U", "ʊɹ": "U@", "ʊə": "U@", "u": "u:", "uː": "u:", "oʊ": "oU", "əʊ": "@U",
    "ɔ": "O", "ɔː": "O:", "ɔːɹ": "O@", "ɔɪ": "OI", "ɒ": "0", "aɪ": "aI", "aɪə": "aI@",
    "aʊ": "aU",
    # consonants
    "p": "p", "b": "b", "t": "t", "d": "d", "k": "k", "ɡ": "g", "g": "g", "f": "f",
    "v": "v", "θ": "T", "ð": "D", "s": "s", "z": "z", "ʃ": "S", "ʒ": "Z", "h": "h",
    "m": "m", "n": "n", "n̩": "n-", "ŋ": "N", "l": "l", "ɹ": "r", "r": "r", "w": "w",
    "j": "j", "dʒ": "dZ", "tʃ": "tS", "ɾ": "t#", "ʔ": "?", "x": "x",
}  # fmt: skip


def ipa_name(phoneme: str) -> str:
    """espeak-ng's name for one IPA phoneme, its stress mark kept in espeak-ng's spelling
    ("ˈeɪ" -> "'eI"); a symbol not in the table keeps its IPA."""
    stress = "".join(STRESS[c] for c in phoneme if c in STRESS)
    core = "".join(c for c in phoneme if c not in STRESS)
    return stress + IPA_TO_NAME.get(core, core)


def word_labels(ipa: list[list[str]], names: list[list[str]]) -> list[list[str]]:
    """One label per IPA phoneme of each word: its espeak-ng names where they pair with the IPA
    one to one, markers dropped; else each phoneme's name from the table."""
    out = []
    for n, word in enumerate(ipa):
        named = [p for p in (names[n] if n < len(names) else []) if p not in MARKERS]
        out.append(named if len(named) == len(word) else [ipa_name(p) for p in word])
    return out


def speech_end(samples: np.ndarray, rate: int, floor_db: float = -40.0) -> float:
    """Seconds to the end of the last 10 ms frame whose peak is within `floor_db` of the
    utterance's loudest frame (the whole length for silence)."""
    hop = max(1, rate // 100)
    frames = len(samples) // hop
    if frames == 0:
        return len(samples) / rate
    peaks = np.abs(np.asarray(samples[: frames * hop], np.float64)).reshape(frames, hop).max(1)
    top = peaks.max()
    if top <= 0:
        return len(samples) / rate
    loud = np.nonzero(peaks >= top * 10 ** (floor_db / 20))[0]
    return float((loud[-1] + 1) * hop / rate)
