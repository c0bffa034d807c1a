"""Signal: STOI / ESTOI (pystoi) and mel cepstral distortion after DTW.

STOI and ESTOI (Taal et al. 2011; Jensen & Taal 2016) compare short-time envelopes of the
ground truth and the generated audio at the same times, so they need time-aligned audio: the
generated clip is cut or zero-padded to the ground truth's length (missing speech counts
against it). 1.0 is identical.

MCD: 13 mel cepstral coefficients (c1-c13, no energy c0) from a 40-band mel spectrum (25 ms
windows, 10 ms hop), leading and trailing silence trimmed (40 dB under the peak), frames
paired by DTW, then 10/ln10 * sqrt(2 * sum (c - c')^2) averaged over the path, in dB. The
coefficients are scaled as a mel-cepstrum of the log amplitude spectrum (the cosine-series
coefficients SPTK's MCD uses: half the log power, DCT divided by sqrt(2 * bands)), so values
land in the usual range (about 4-8 dB between different voices). They come from a mel
filterbank, not SPTK's mel-generalised analysis: compare systems judged here, not every
published MCD.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imagintalk_plugin.audio import SAMPLE_RATE
from imagintalk_plugin.evaluation.judge import Judge, Row, Utterance

N_MELS = 40
N_CEPSTRA = 13
_MCD_SCALE = 10.0 / np.log(10.0) * np.sqrt(2.0)


def mel_cepstra(samples: np.ndarray) -> np.ndarray:
    """(T, 13) mel cepstra c1..c13 (log amplitude, cosine-series scaling) of trimmed audio."""
    import librosa
    from scipy.fft import dct

    samples = np.asarray(samples, np.float32)
    if len(samples) and np.abs(samples).max() > 0:
        samples, _ = librosa.effects.trim(samples, top_db=40)
    mel = librosa.feature.melspectrogram(
        y=samples, sr=SAMPLE_RATE, n_fft=400, hop_length=160, n_mels=N_MELS, center=False
    )
    log_amplitude = 0.5 * np.log(mel + 1e-10)
    cepstra = dct(log_amplitude, type=2, norm="ortho", axis=0) / np.sqrt(2.0 * N_MELS)
    return cepstra[1 : N_CEPSTRA + 1].T.astype(np.float64)


def mel_cepstral_distortion(reference: np.ndarray, generated: np.ndarray) -> float:
    """MCD in dB between two clips, frames paired by dynamic time warping."""
    import librosa

    ref, gen = mel_cepstra(reference), mel_cepstra(generated)
    if len(ref) == 0 or len(gen) == 0:
        return float("nan")
    _, path = librosa.sequence.dtw(X=ref.T, Y=gen.T, metric="euclidean")
    diff = ref[path[:, 0]] - gen[path[:, 1]]
    return float(_MCD_SCALE * np.mean(np.sqrt(np.sum(diff**2, axis=1))))


def intelligibility_indices(reference: np.ndarray, generated: np.ndarray) -> tuple[float, float]:
    """(STOI, ESTOI) of the generated audio against the ground truth, at the same times."""
    from pystoi import stoi

    generated = np.asarray(generated, np.float64)[: len(reference)]
    generated = np.pad(generated, (0, len(reference) - len(generated)))
    reference = np.asarray(reference, np.float64)
    return (
        float(stoi(reference, generated, SAMPLE_RATE, extended=False)),
        float(stoi(reference, generated, SAMPLE_RATE, extended=True)),
    )


class SignalJudge(Judge):
    """STOI, ESTOI and MCD-DTW against the ground-truth audio."""

    name = "signal"
    columns = ("stoi", "estoi", "mcd_db")

    def score(self, utterance: Utterance) -> Row:
        """Both indices and the distortion for one utterance."""
        stoi_value, estoi_value = intelligibility_indices(utterance.reference, utterance.generated)
        return {
            "stoi": stoi_value,
            "estoi": estoi_value,
            "mcd_db": mel_cepstral_distortion(utterance.reference, utterance.generated),
        }

    def finish(self, rows: list[Row]) -> dict[str, Any]:
        """Nothing corpus-wide beyond the means."""
        return {}
