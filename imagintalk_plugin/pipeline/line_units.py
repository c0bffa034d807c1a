"""A known line (ADR) as the model's speech units: espeak-ng says it, the unit codebook reads it.

The text becomes phonemes and speech the way ImaginTalk-Synth makes its corpus (espeak-ng, one
fixed reference voice), with rest before and after, and the checkpoint's own unit codebook
turns that speech into 50 Hz units: the same units the Style-DiT was trained to speak. Where
espeak-ng's words are goes with them, for the alignment to the lips (`line_alignment`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.manifest import Segment
from imagintalk_plugin.espeak import EspeakVoice, speak
from imagintalk_plugin.nn.lip_aligner import UNIT_RATE_HZ
from imagintalk_plugin.nn.units import UnitExtractor

REST_S = 0.3  # silence said before and after the line (the mouth at rest)
MAX_LINE_CHARS = 2000  # a line, not a script
REFERENCE_VOICE = EspeakVoice()  # the line's timing and units come from one fixed voice
REST_LEVEL, REST_SOFTNESS = -0.5, 0.15  # normalised c0 around which a unit counts as rest


def rest_weights(extractor: UnitExtractor) -> np.ndarray:
    """(K,) how much each unit is rest rather than speech, in [0, 1].

    MFCC units are fitted on utterance-normalised cepstra, so a centroid's c0 says how loud
    its frames are against the rest of their utterance: the quiet ones are the silences
    (digital or room tone alike). HuBERT units carry no loudness: no unit counts as rest."""
    if extractor.config.kind != "mfcc":
        return np.zeros(extractor.config.num_units, np.float32)
    c0 = extractor.centroids[:, 0].numpy().astype(np.float64)
    return (1.0 / (1.0 + np.exp((c0 - REST_LEVEL) / REST_SOFTNESS))).astype(np.float32)


@dataclass(frozen=True, eq=False)
class LineUnits:
    """A line said once by the reference voice, as 50 Hz steps."""

    text: str
    samples: np.ndarray  # float32 at 16 kHz: the reference voice saying it, rest included
    units: np.ndarray  # (N,) int64 unit ids
    speech: np.ndarray  # (N,) bool: the step lies inside one of the words
    words: list[Segment]  # the words, in seconds of this rendition

    @property
    def speech_s(self) -> float:
        """Seconds from the first word's start to the last word's end."""
        return self.words[-1].end - self.words[0].start if self.words else 0.0


def clean_line(text: str) -> str:
    """The line as espeak-ng should read it: one line, single spaces; a usage error if empty."""
    line = re.sub(r"\s+", " ", text or "").strip()
    if not re.search(r"\w", line):
        raise UsageError('the line is empty: give the words to speak, e.g. --line "bin blue"')
    if len(line) > MAX_LINE_CHARS:
        raise UsageError(
            f"the line has {len(line)} characters; split it (at most {MAX_LINE_CHARS})"
        )
    return line


def line_units(text: str, extractor: UnitExtractor) -> LineUnits:
    """The line's units and word spans at 50 Hz, rest included."""
    line = clean_line(text)
    spoken = speak(line, REFERENCE_VOICE)
    rate = spoken.sample_rate
    rest = np.zeros(round(REST_S * rate), np.float32)
    samples = np.concatenate([rest, spoken.samples, rest])
    units = extractor.unit_ids(samples).astype(np.int64)
    steps = len(units)
    words = [Segment(w.label, w.start + REST_S, w.end + REST_S) for w in spoken.words]
    times = (np.arange(steps) + 0.5) / UNIT_RATE_HZ
    speech = np.zeros(steps, bool)
    for w in words:
        speech |= (times >= w.start) & (times < w.end)
    return LineUnits(line, samples, units, speech, words)
