"""A long take is written to its BWF block by block: the same bytes, a small fixed memory.

`write_bwf` turns the samples into PCM a block of frames at a time and writes each block as it
is made; converting a 3-minute 48 kHz take at once cost about five float64 copies of it.
"""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.timeline import bwf
from imagintalk_plugin.timeline.bwf import read_wav, read_wav_info, write_bwf

SR = 48000


def _whole_pcm(samples: np.ndarray, bits: int) -> bytes:
    """The data chunk's payload made from the whole take at once (the reference)."""
    frames = samples.reshape(1, -1) if samples.ndim == 1 else samples
    full = float(1 << (bits - 1))
    ints = np.clip(np.rint(np.nan_to_num(frames.astype(np.float64)) * full), -full, full - 1)
    interleaved = ints.astype(np.int32).T.reshape(-1)
    if bits == 16:
        return interleaved.astype("<i2").tobytes()
    return interleaved.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


@pytest.mark.parametrize(("bits", "channels"), [(24, 1), (16, 2), (24, 3)])
def test_blocks_write_the_bytes_of_the_whole_take(tmp_path: Path, bits: int, channels: int):
    n = 2 * bwf._PCM_BLOCK + 1  # two full blocks and one frame: an odd 24-bit mono payload
    rng = np.random.default_rng(channels)
    samples = rng.uniform(-1.1, 1.1, (channels, n)).astype(np.float32)
    samples = samples[0] if channels == 1 else samples
    out = write_bwf(tmp_path / "t.wav", Waveform(samples, SR), time_reference=9, bit_depth=bits)
    data = out.read_bytes()
    expected = _whole_pcm(samples, bits)
    start = data.index(b"data") + 8
    assert struct.unpack("<I", data[start - 4 : start])[0] == len(expected)
    assert data[start : start + len(expected)] == expected
    assert len(data) == start + len(expected) + len(expected) % 2  # the word-alignment pad
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    info = read_wav_info(out)
    assert (info.num_frames, info.channels, info.bit_depth) == (n, channels, bits)
    assert read_wav(out).samples.shape[-1] == n


def test_a_long_take_is_written_in_a_few_megabytes(tmp_path: Path) -> None:
    samples = np.random.default_rng(0).uniform(-1, 1, 60 * SR).astype(np.float32)  # 11.5 MB
    tracemalloc.start()
    try:
        write_bwf(tmp_path / "long.wav", Waveform(samples, SR), time_reference=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4e6, f"{peak / 1e6:.1f} MB to write a 60 s take (was about 78 MB)"
