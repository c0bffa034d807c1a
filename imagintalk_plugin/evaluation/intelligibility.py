"""Intelligibility: what CMU PocketSphinx hears, scored as WER and CER with jiwer.

GRID sentences are decoded with a JSGF grammar of the GRID vocabulary (the corpus's own
COMMANDS, COLOURS, ... from `synth.sentences`), free text with PocketSphinx's default en-us
language model. Both come with the `pocketsphinx` wheel (en-us acoustic model, CMU dictionary).
Letters are spoken by name, so the grammar uses the dictionary's letter entries ("f." is
EH F; "zed" for the British z) and recognised letters are mapped back to the written letter.

Two things matter a lot for the decoder and are done to every clip, ground truth included:
0.5 s of silence before and after (the decoder needs leading silence for its noise and
cepstral-mean estimates), and a fixed low noise floor (peak normalised to 0.7, seeded white
noise at 0.005, about -43 dB under the peak): on digitally silent synthetic speech the
decoder's noise removal otherwise misfires and GRID WER roughly triples.

PocketSphinx is a small 2000s-era recogniser: the numbers are comparable between systems
judged the same way, not with WERs from modern recognisers. Free-text WER on synthetic
voices is high even for the ground truth; the `--ground-truth` ceiling says how high.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from imagintalk_plugin.audio import SAMPLE_RATE
from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.evaluation.judge import Judge, Row, Utterance
from imagintalk_plugin.synth import sentences

PAD_S = 0.5
PEAK = 0.7
NOISE_FLOOR = 0.005
GRID_SEARCH = "grid"
LM_SEARCH = "_default"  # PocketSphinx's name for the default language-model search

_PUNCTUATION = re.compile(r"[^\w' ]+")


def grid_grammar() -> str:
    """The JSGF grammar of GRID sentences: command colour preposition letter digit adverb."""
    letters = [f"{letter}." for letter in sentences.LETTERS] + ["zed"]
    groups = (
        sentences.COMMANDS,
        sentences.COLOURS,
        sentences.PREPOSITIONS,
        letters,
        sentences.DIGITS,
        sentences.ADVERBS,
    )
    body = " ".join(f"({' | '.join(group)})" for group in groups)
    return f"#JSGF V1.0;\ngrammar grid;\npublic <sentence> = {body};\n"


def normalise(text: str) -> str:
    """Lower case words without punctuation; recognised letters ("f.", "zed") as letters."""
    words = []
    for word in text.lower().split():
        if word == "zed":
            word = "z"
        elif len(word) == 2 and word.endswith(".") and word[0].isalpha():
            word = word[0]
        word = _PUNCTUATION.sub("", word).strip("'")
        if word:
            words.append(word)
    return " ".join(words)


def error_rates(reference: str, hypothesis: str) -> tuple[float, float]:
    """(WER, CER) of a hypothesis against a reference, both normalised first (jiwer)."""
    import jiwer

    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return float("nan"), float("nan")
    if not hyp:
        return 1.0, 1.0
    return float(jiwer.wer(ref, hyp)), float(jiwer.cer(ref, hyp))


def decoder_input(samples: np.ndarray, seed: int = 0) -> bytes:
    """16-bit PCM of the clip as the decoder gets it: peak-normalised, padded, noise floor."""
    samples = np.asarray(samples, np.float64)
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak > 1e-4:
        samples = samples * (PEAK / peak)
    pad = np.zeros(int(PAD_S * SAMPLE_RATE))
    padded = np.concatenate([pad, samples, pad])
    padded += NOISE_FLOOR * np.random.default_rng(seed).standard_normal(len(padded))
    return (np.clip(padded, -1.0, 1.0) * 32767).astype("<i2").tobytes()


class Recogniser:
    """One PocketSphinx decoder holding the GRID grammar and the default LM (loaded lazily)."""

    def __init__(self) -> None:
        self._decoder: Any = None

    def _load(self) -> Any:
        if self._decoder is None:
            try:
                from pocketsphinx import Decoder
            except ImportError as exc:
                raise ModelLoadError("pocketsphinx", "package not installed") from exc
            decoder = Decoder(loglevel="FATAL")
            decoder.add_jsgf_string(GRID_SEARCH, grid_grammar())
            self._decoder = decoder
        return self._decoder

    def transcribe(self, samples: np.ndarray, text_set: str) -> str:
        """What the decoder hears in 16 kHz samples (GRID grammar for "grid", else the LM)."""
        decoder = self._load()
        decoder.activate_search(GRID_SEARCH if text_set == "grid" else LM_SEARCH)
        decoder.start_utt()
        decoder.process_raw(decoder_input(samples), full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""


class IntelligibilityJudge(Judge):
    """WER and CER of PocketSphinx's transcript of the generated speech."""

    name = "wer"
    columns = ("wer", "cer", "transcript")

    def __init__(self, recogniser: Recogniser | None = None) -> None:
        self.recogniser = recogniser or Recogniser()
        self._pairs: list[tuple[str, str, str]] = []

    def score(self, utterance: Utterance) -> Row:
        """Transcribe the generated audio and score it against the manifest's text."""
        entry = utterance.entry
        heard = self.recogniser.transcribe(utterance.generated, entry.text_set)
        wer, cer = error_rates(entry.text, heard)
        self._pairs.append((entry.text_set, normalise(entry.text), normalise(heard)))
        return {"wer": wer, "cer": cer, "transcript": normalise(heard)}

    def finish(self, rows: list[Row]) -> dict[str, Any]:
        """Corpus WER/CER (all errors over all reference words, not a mean of ratios), overall
        and per text set ("grid", "free")."""
        summary: dict[str, Any] = {}
        for text_set in (None, *sorted({p[0] for p in self._pairs})):
            pairs = [(r, h) for s, r, h in self._pairs if r and text_set in (None, s)]
            if pairs:
                wer, cer = corpus_error_rates([r for r, _ in pairs], [h for _, h in pairs])
                suffix = f"_{text_set}" if text_set else ""
                summary[f"wer_corpus{suffix}"] = wer
                summary[f"cer_corpus{suffix}"] = cer
        return summary


def corpus_error_rates(references: list[str], hypotheses: list[str]) -> tuple[float, float]:
    """(WER, CER) over a whole set of normalised sentences."""
    import jiwer

    words = jiwer.process_words(references, hypotheses)
    chars = jiwer.process_characters(references, hypotheses)
    return float(words.wer), float(chars.cer)
