"""The delivery format of dialogue files: 48 kHz, 24-bit Broadcast WAV by default.

Film and TV post work at 48 kHz; the models speak at 16 kHz. Takes are resampled (soxr, high
quality) when they are written, so the `bext` TimeReference and every length are counted at
the delivered rate. `None` keeps the model's own rate (for research and quick checks).
"""

from __future__ import annotations

import numpy as np

from imagintalk_plugin.core.signals import Waveform

DELIVERY_RATE = 48000
DELIVERY_BIT_DEPTH = 24
RATES = (16000, 22050, 24000, 44100, 48000, 96000)


def parse_rate(text: str) -> int | None:
    """`--sample-rate` as given: a rate in Hz from `RATES`, or "model" (None: keep the
    model's rate). Raises ValueError naming the choices."""
    if text.strip().lower() == "model":
        return None
    try:
        rate = int(text)
    except ValueError:
        rate = -1
    if rate not in RATES:
        choices = ", ".join(str(r) for r in RATES)
        raise ValueError(f"sample rate '{text}' is not one of {choices} or 'model'")
    return rate


def for_delivery(waveform: Waveform, rate: int | None, seconds: float | None = None) -> Waveform:
    """`waveform` at `rate` (None: unchanged), cut or padded with silence to `seconds`.

    The length is set after resampling, so a clip of `seconds` gets exactly
    round(seconds x rate) samples at the delivered rate.
    """
    samples = np.asarray(waveform.samples, np.float32)
    out_rate = waveform.sample_rate if rate is None else int(rate)
    if out_rate != waveform.sample_rate and len(samples):
        import soxr

        samples = soxr.resample(samples, waveform.sample_rate, out_rate, quality="HQ")
        samples = np.clip(samples, -1.0, 1.0).astype(np.float32)
    if seconds is not None:
        length = round(seconds * out_rate)
        samples = np.pad(samples, (0, max(0, length - len(samples))))[:length]
    return Waveform(samples, out_rate)
