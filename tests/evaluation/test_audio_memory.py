"""Frame energies a block at a time: the same figures as the whole take's, in little memory.

`pitch_track` measures every take's prosody (the panel's curves); its 25 ms energies used to
square every frame of the padded take at once, 25 float64 copies of it (150 MB for 3 minutes).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from imagintalk_plugin.audio import SAMPLE_RATE, frame_energy_db, pitch_track


def _whole(samples: np.ndarray, hop: int, window: int, pad: tuple[int, int]) -> np.ndarray:
    """Energies of every frame at once from a padded float64 copy (the reference)."""
    padded = np.pad(np.asarray(samples, np.float64), pad)
    count = max(0, (len(padded) - window) // hop + 1)
    index = np.arange(window)[None, :] + hop * np.arange(count)[:, None]
    return (10.0 * np.log10(np.mean(padded[index] ** 2, axis=1) + 1e-10)).astype(np.float32)


@pytest.mark.parametrize("n", [0, 199, 400, 401, 163_841, 500_007])
@pytest.mark.parametrize(("hop", "window", "pad"), [(160, 400, (200, 400)), (160, 320, (0, 0))])
def test_block_energies_equal_the_whole_takes_to_the_bit(
    n: int, hop: int, window: int, pad: tuple[int, int]
) -> None:
    samples = (np.random.default_rng(n).standard_normal(n) * 0.1).astype(np.float32)
    blocks = frame_energy_db(samples, hop, window, pad=pad)
    np.testing.assert_array_equal(blocks, _whole(samples, hop, window, pad))


def test_prosody_of_a_long_take_costs_about_one_float64_copy() -> None:
    seconds = 60
    t = np.arange(seconds * SAMPLE_RATE) / SAMPLE_RATE
    samples = (0.3 * np.sin(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)).astype(
        np.float32
    )
    tracemalloc.start()
    try:
        track = pitch_track(samples)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(track.energy_db) == seconds * 100
    assert 130 < float(np.median(track.f0_hz[track.voiced])) < 150
    float64_copy = samples.size * 8
    assert peak < 1.5 * float64_copy, f"{peak / float64_copy:.1f} float64 copies of the take"
