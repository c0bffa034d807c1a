"""Speech with exact phoneme and word timings from espeak-ng's C library (through ctypes).

`espeakng-loader` ships libespeak-ng and its data, so a pip install covers it. The library runs
in synchronous mode with phoneme events on: each event carries its position in the audio, so
phoneme and word boundaries are exact, not estimated. Calls are serialised by a lock. Audio
comes out at 22.05 kHz and is resampled to 16 kHz with soxr.

espeak-ng keeps state between utterances in static variables, so every call loads a fresh
copy of the library and unloads it afterwards: calls are independent and reproducible.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.core.manifest import Segment

SAMPLE_RATE = 16000

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_END, _EVENT_MSG_TERMINATED, _EVENT_PHONEME = 5, 6, 7
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
PAUSE_PHONEMES = frozenset({"_", "_:", "_!", "_;", "_|", "||", ""})


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class SpokenText:
    """Synthesised speech at 16 kHz with its words and phonemes (pauses left out)."""

    samples: np.ndarray  # (N,) float32 in [-1, 1]
    sample_rate: int
    words: list[Segment]
    phonemes: list[Segment]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class EspeakVoice:
    """An espeak-ng voice: language + variant, base pitch and range (0-100), speed (words/min)."""

    variant: str = "m3"
    pitch: int = 50
    pitch_range: int = 50
    speed: int = 160
    language: str = "en-us"

    @property
    def name(self) -> str:
        """espeak-ng's voice name, e.g. 'en-us+m3'."""
        return f"{self.language}+{self.variant}" if self.variant else self.language


@cache
def _library_files() -> tuple[str, bytes]:
    """Paths of the libespeak-ng shared library and its data folder (from espeakng-loader)."""
    try:
        import espeakng_loader
    except ImportError as exc:
        raise ModelLoadError("espeakng-loader", "package not installed") from exc
    return str(espeakng_loader.get_library_path()), str(espeakng_loader.get_data_path()).encode()


_LOCK = threading.Lock()


def _declare(lib: Any) -> None:
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.POINTER(ctypes.c_uint),
        ctypes.c_void_p,
    ]


def _synthesise(text: str, voice: EspeakVoice, seed: int) -> tuple[np.ndarray, list, int]:
    """One utterance from a freshly loaded engine: (int16 samples, events, sample rate).

    espeak-ng keeps state in static variables between utterances (pitch flutter phase, the
    last pitch, ...), so the same text said twice in one process differed. The library is
    loaded, initialised, used once and unloaded (dlclose) for every call: each call starts
    from the same state, so the same arguments give the same samples in any order. A load
    costs a few milliseconds.
    """
    import _ctypes

    library, data = _library_files()
    chunks: list[np.ndarray] = []
    events: list[tuple[int, int, int, int, str]] = []

    def collect(wav: Any, count: int, event_list: Any) -> int:
        if count > 0 and wav:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        i = 0
        while event_list[i].type != 0:  # espeakEVENT_LIST_TERMINATED
            e = event_list[i]
            label = bytes(e.id.string).split(b"\0")[0].decode("utf-8", "replace")
            events.append((e.type, e.audio_position, e.text_position, e.length, label))
            i += 1
        return 0

    callback = _CALLBACK(collect)
    with _LOCK:
        try:
            lib: Any = ctypes.CDLL(library)
        except OSError as exc:
            raise ModelLoadError(library, str(exc)) from exc
        try:
            _declare(lib)
            options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, options)
            if rate <= 0:
                raise ModelLoadError(data.decode(), "espeak-ng failed to initialise")
            lib.espeak_SetSynthCallback(callback)
            if lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
                raise ModelLoadError(voice.name, "espeak-ng has no such voice")
            for param, value in (
                (_RATE, voice.speed),
                (_PITCH, voice.pitch),
                (_RANGE, voice.pitch_range),
                (_VOLUME, 100),
            ):
                lib.espeak_SetParameter(param, int(value), 0)
            lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
            encoded = text.encode("utf-8") + b"\0"
            buffer = ctypes.create_string_buffer(encoded)
            lib.espeak_Synth(buffer, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            lib.espeak_Terminate()
        finally:
            _ctypes.dlclose(lib._handle)
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return audio, events, rate


def _word_offsets(text: str) -> list[tuple[int, str]]:
    """1-based character offsets (espeak-ng's text positions) of the whitespace-separated words."""
    out, pos = [], 0
    for word in text.split():
        pos = text.index(word, pos)
        out.append((pos + 1, word))
        pos += len(word)
    return out


def _split_group(phonemes: list[Segment], words: list[str], counts: list[int]) -> list[Segment]:
    """Share one espeak-ng word group's phonemes among its written words.

    espeak-ng says an unstressed function word with its neighbour as one word ("on the"):
    the later words take as many trailing phonemes as they have when said alone.
    """
    bounds = [len(phonemes)]
    for count in reversed(counts[1:]):
        bounds.insert(0, max(bounds[0] - max(count, 1), len(bounds)))
    bounds.insert(0, 0)
    timed = []
    for word, a, b in zip(words, bounds[:-1], bounds[1:], strict=True):
        if b > a:
            timed.append(Segment(word, phonemes[a].start, phonemes[b - 1].end))
    return timed


def _timings(
    text: str, events: list, total: float, voice: EspeakVoice
) -> tuple[list[Segment], list[Segment]]:
    """Words and phonemes with start/end seconds from espeak-ng's events."""
    raw = [
        (pos / 1000.0, tpos, label)
        for kind, pos, tpos, _, label in events
        if kind == _EVENT_PHONEME
    ]
    ends = [pos / 1000.0 for kind, pos, *_ in events if kind in (_EVENT_END, _EVENT_MSG_TERMINATED)]
    stop = min(max(ends, default=total), total)
    phonemes, groups = [], {}
    for i, (start, tpos, label) in enumerate(raw):
        end = raw[i + 1][0] if i + 1 < len(raw) else stop
        if label not in PAUSE_PHONEMES and end > start:
            phonemes.append(Segment(label, start, end))
            groups.setdefault(tpos, []).append(phonemes[-1])
    offsets = _word_offsets(text)
    starts = sorted(groups)
    words = []
    for i, tpos in enumerate(starts):
        limit = starts[i + 1] if i + 1 < len(starts) else 10**9
        members = [w for offset, w in offsets if tpos <= offset < limit]
        if not members:
            continue
        counts = [_phoneme_count(w, voice) for w in members] if len(members) > 1 else [1]
        words.extend(_split_group(groups[tpos], members, counts))
    return words, phonemes


@cache
def _phoneme_count(word: str, voice: EspeakVoice) -> int:
    """How many phonemes espeak-ng says for a word on its own."""
    _, events, _ = _synthesise(word, voice, 0)
    return sum(
        1 for kind, *_, label in events if kind == _EVENT_PHONEME and label not in PAUSE_PHONEMES
    )


def speak(text: str, voice: EspeakVoice | None = None, seed: int = 0) -> SpokenText:
    """Synthesise `text` with `voice`; 16 kHz float32 audio with word and phoneme timings.

    espeak-ng varies its voice randomly (flutter); `seed` fixes that, so the same arguments
    always give the same samples.
    """
    import soxr

    voice = voice or EspeakVoice()
    audio, events, rate = _synthesise(text, voice, seed)
    samples = soxr.resample(audio.astype(np.float32) / 32768.0, rate, SAMPLE_RATE)
    samples = samples.astype(np.float32)
    words, phonemes = _timings(text, events, len(samples) / SAMPLE_RATE, voice)
    return SpokenText(samples, SAMPLE_RATE, words, phonemes)


_PHONEME_SEPARATOR = ord("_")
_PHONEMES_IPA = 0x02


def ipa_words(text: str, language: str = "en-us", ipa: bool = True) -> list[list[str]]:
    """espeak-ng's IPA for `text` (its own phoneme names with `ipa` off, as `speak` labels
    them): one list of phonemes per spoken word, e.g.
    "on the table" -> [["ˈɔ", "n", "ð", "ə"], ["t", "ˈeɪ", "b", "əl"]].

    A phoneme keeps its stress mark in front and its length mark ("ː") behind. espeak-ng
    says an unstressed function word with its neighbour as one word ("on the" above), so a
    spoken word may cover several written ones. Punctuation is dropped. Like `speak`, each
    call uses a freshly loaded engine, so results never depend on earlier calls.
    """
    import _ctypes

    library, data = _library_files()
    out: list[list[str]] = []
    with _LOCK:
        try:
            lib: Any = ctypes.CDLL(library)
        except OSError as exc:
            raise ModelLoadError(library, str(exc)) from exc
        try:
            _declare(lib)
            lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
            lib.espeak_TextToPhonemes.argtypes = [
                ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int
            ]  # fmt: skip
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT)
            if rate <= 0:
                raise ModelLoadError(data.decode(), "espeak-ng failed to initialise")
            if lib.espeak_SetVoiceByName(language.encode()) != 0:
                raise ModelLoadError(language, "espeak-ng has no such voice")
            buffer = ctypes.create_string_buffer(text.encode("utf-8") + b"\0")
            pointer = ctypes.c_void_p(ctypes.addressof(buffer))
            mode = (_PHONEMES_IPA if ipa else 0) | (_PHONEME_SEPARATOR << 8)
            while pointer.value:
                clause = lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, mode)
                for word in (clause or b"").decode("utf-8", "replace").split():
                    phonemes = [p for p in word.split("_") if p]
                    if phonemes:
                        out.append(phonemes)
            lib.espeak_Terminate()
        finally:
            _ctypes.dlclose(lib._handle)
    return out
