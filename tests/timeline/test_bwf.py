"""Broadcast WAV writing and WAV reading: header layout, sample exactness, atomic writes."""

from __future__ import annotations

import struct
import wave
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from imagintalk_plugin.core.errors import AudioFileError, OutputExistsError
from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.timeline.bwf import (
    read_bwf_time_reference,
    read_wav,
    read_wav_info,
    rewrite_as_bwf,
    write_bwf,
)

SR = 48000


def _tone(n: int = 4801, channels: int = 1) -> np.ndarray:
    t = np.arange(n) / SR
    mono = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return mono if channels == 1 else np.stack([mono * (c + 1) / channels for c in range(channels)])


def _chunks(path: Path) -> dict[bytes, bytes]:
    data = path.read_bytes()
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    chunks, pos = {}, 12
    while pos < len(data):
        cid, size = struct.unpack("<4sI", data[pos : pos + 8])
        chunks[cid] = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    assert pos == len(data)
    return chunks


def _plain_wav(path: Path, fmt_tag: int, bits: int, payload: bytes, channels: int = 1) -> Path:
    """A hand-made RIFF WAVE (PCM, float or extensible) with no bext chunk."""
    block = channels * bits // 8
    if fmt_tag == 0xFFFE:
        fmt = struct.pack("<HHIIHH", 0xFFFE, channels, SR, SR * block, block, bits)
        sub = struct.pack("<H", 3) + bytes.fromhex("000000001000800000aa00389b71")
        fmt += struct.pack("<HHI", 22, bits, 0) + sub
    else:
        fmt = struct.pack("<HHIIHH", fmt_tag, channels, SR, SR * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_bext_chunk_layout(tmp_path):
    out = tmp_path / "a.wav"
    when = datetime(2024, 5, 6, 7, 8, 9)
    write_bwf(
        out,
        Waveform(_tone(), SR),
        time_reference=172_972_800,
        description="dialogue for shot 1",
        originator_reference="V1-001 take 1",
        origination=when,
    )
    chunks = _chunks(out)
    assert list(chunks) == [b"bext", b"fmt ", b"data"]
    bext = chunks[b"bext"]
    assert bext[:19] == b"dialogue for shot 1"
    assert bext[19:256] == bytes(237)
    assert bext[256:288].rstrip(b"\0") == b"ImaginTalk"
    assert bext[288:320].rstrip(b"\0") == b"V1-001 take 1"
    assert bext[320:338] == b"2024-05-0607:08:09"
    low, high, version = struct.unpack("<IIH", bext[338:348])
    assert (low, high, version) == (172_972_800, 0, 2)
    assert bext[348:602] == bytes(254)  # UMID, loudness fields and reserved: zero
    assert bext[602:] == b"A=PCM,F=48000,W=24,M=mono,T=ImaginTalk\r\n"
    tag, channels, rate, byte_rate, block, bits = struct.unpack("<HHIIHH", chunks[b"fmt "])
    assert (tag, channels, rate, byte_rate, block, bits) == (1, 1, SR, SR * 3, 3, 24)
    assert len(chunks[b"data"]) == 4801 * 3  # odd: the file carries one pad byte


def test_time_reference_uses_the_high_word(tmp_path):
    out = tmp_path / "late.wav"
    reference = 23 * 3600 * 192_000 + 2**32  # beyond 32 bits
    write_bwf(out, Waveform(_tone(100), SR), time_reference=reference, bext_version=1)
    assert read_bwf_time_reference(out) == reference
    assert read_wav_info(out).bext_version == 1


@pytest.mark.parametrize(("bits", "channels"), [(16, 1), (24, 1), (16, 2), (24, 3)])
def test_samples_round_trip(tmp_path, bits, channels):
    out = tmp_path / "x.wav"
    samples = _tone(channels=channels)
    write_bwf(out, Waveform(samples, SR), time_reference=0, bit_depth=bits)
    back = read_wav(out)
    assert back.sample_rate == SR
    assert back.samples.shape == samples.shape
    assert np.max(np.abs(back.samples - samples)) <= 1 / 2 ** (bits - 1)
    with wave.open(str(out)) as w:  # the stdlib reader accepts our files
        assert (w.getnchannels(), w.getsampwidth(), w.getnframes()) == (channels, bits // 8, 4801)


def test_full_scale_is_clipped_not_wrapped(tmp_path):
    out = tmp_path / "loud.wav"
    write_bwf(out, Waveform(np.array([2.0, -2.0, 1.0, np.nan]), SR), time_reference=0, bit_depth=16)
    ints = np.frombuffer(_chunks(out)[b"data"], dtype="<i2")
    assert ints.tolist() == [32767, -32768, 32767, 0]


def test_plain_wav_inputs_are_read(tmp_path):
    ramp = np.array([0, 1000, -1000, 32767, -32768], dtype="<i2")
    p16 = tmp_path / "p16.wav"
    with wave.open(str(p16), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(ramp.tobytes())
    np.testing.assert_array_equal(read_wav(p16).samples, ramp / 32768.0)
    i32 = _plain_wav(tmp_path / "i32.wav", 1, 32, (ramp.astype("<i4") << 16).tobytes())
    np.testing.assert_array_equal(read_wav(i32).samples, ramp / 32768.0)
    floats = np.array([0.25, -0.5, 0.75, -1.0], dtype="<f4")
    stereo = np.stack([floats, -floats]).T.reshape(-1)
    f32 = _plain_wav(tmp_path / "f32.wav", 3, 32, stereo.tobytes(), channels=2)
    np.testing.assert_array_equal(read_wav(f32).samples, np.stack([floats, -floats]))
    ext = _plain_wav(tmp_path / "ext.wav", 0xFFFE, 32, floats.tobytes())
    assert read_wav_info(ext).is_float
    np.testing.assert_array_equal(read_wav(ext).samples, floats)
    i24 = np.array([0, 1, -1, 2**23 - 1, -(2**23)], dtype="<i4").view(np.uint8).reshape(-1, 4)
    p24 = _plain_wav(tmp_path / "p24.wav", 1, 24, i24[:, :3].tobytes())
    np.testing.assert_array_equal(
        read_wav(p24).samples, np.array([0, 1, -1, 2**23 - 1, -(2**23)]) / 2.0**23
    )
    assert read_wav_info(p24).time_reference is None
    u8 = _plain_wav(tmp_path / "u8.wav", 1, 8, bytes([128, 255, 0]))
    np.testing.assert_array_equal(read_wav(u8).samples, [0.0, 127 / 128, -1.0])
    assert (
        read_wav_info(rewrite_as_bwf(u8, tmp_path / "u8_bwf.wav", time_reference=0)).bit_depth == 16
    )


@pytest.mark.parametrize("bits", [16, 24])
def test_rewrite_keeps_pcm_samples_exactly(tmp_path, bits):
    src = tmp_path / "in.wav"
    write_bwf(src, Waveform(_tone(channels=2), SR), time_reference=5, bit_depth=bits)
    dst = tmp_path / "out.wav"
    rewrite_as_bwf(src, dst, time_reference=172_799_827)
    assert read_bwf_time_reference(dst) == 172_799_827
    assert read_wav_info(dst).bit_depth == bits
    assert _chunks(dst)[b"data"] == _chunks(src)[b"data"]


def test_rewrite_float_becomes_24_bit(tmp_path):
    floats = np.array([0.25, -0.5, 0.75, -1.0], dtype="<f4")
    src = _plain_wav(tmp_path / "f.wav", 3, 32, floats.tobytes())
    dst = rewrite_as_bwf(src, tmp_path / "f_bwf.wav", time_reference=48000)
    info = read_wav_info(dst)
    assert (info.bit_depth, info.is_float, info.time_reference) == (24, False, 48000)
    np.testing.assert_array_equal(read_wav(dst).samples, floats)


def test_unreadable_inputs_raise_audio_file_error(tmp_path):
    with pytest.raises(AudioFileError, match="not found"):
        read_wav_info(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav at all")
    with pytest.raises(AudioFileError, match="RIFF"):
        read_wav(junk)
    short = tmp_path / "short.wav"
    short.write_bytes(b"RIFF\x10\0\0\0WAVEfmt \x10\0\0\0\x01\0")
    with pytest.raises(AudioFileError):
        read_wav_info(short)
    adpcm = _plain_wav(tmp_path / "adpcm.wav", 2, 4, b"\0\0")
    with pytest.raises(AudioFileError, match="format tag"):
        read_wav(adpcm)
    plain = _plain_wav(tmp_path / "plain.wav", 1, 16, b"\0\0")
    with pytest.raises(AudioFileError, match="no bext"):
        read_bwf_time_reference(plain)


def test_existing_output_is_refused_and_nothing_is_left_behind(tmp_path):
    out = tmp_path / "a.wav"
    write_bwf(out, Waveform(_tone(10), SR), time_reference=1)
    with pytest.raises(OutputExistsError):
        write_bwf(out, Waveform(_tone(10), SR), time_reference=2)
    assert read_bwf_time_reference(out) == 1
    write_bwf(out, Waveform(_tone(10), SR), time_reference=2, force=True)
    assert read_bwf_time_reference(out) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    out = tmp_path / "a.wav"

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("imagintalk_plugin.timeline.bwf.os.fsync", boom)
    with pytest.raises(AudioFileError, match="No space left"):
        write_bwf(out, Waveform(_tone(10), SR), time_reference=1)
    assert list(tmp_path.iterdir()) == []
