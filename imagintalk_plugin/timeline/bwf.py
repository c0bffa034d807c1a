"""Broadcast WAV (EBU Tech 3285) writing and a small RIFF/WAVE reader.

Generated dialogue is delivered as BWF so a DAW or NLE can "spot" it: the `bext` chunk's
TimeReference is the first sample's position in samples since midnight of the record timecode
(see `placement.timecode_samples`). Files are RIFF WAVE, PCM 16 or 24-bit, any channel count,
`fmt ` tag 1 (plain PCM, as EBU Tech 3285 and Pro Tools write it), `bext` version 1 or 2 (UMID
and, for v2, the loudness fields all zero: we do not measure them). No RF64: a file must stay
under 4 GiB, far beyond any dialogue take.

The reader takes what users hand to `timeline place`: PCM 8/16/24/32-bit, IEEE float 32/64-bit,
plain or WAVE_FORMAT_EXTENSIBLE. It parses chunks itself (the stdlib `wave` module reads neither
float nor, before 3.12, extensible files). Samples map to floats by dividing by 2**(bits-1) and
back by multiplying, so 16/24-bit audio re-wrapped as BWF keeps its exact sample values.

Every write goes to a temporary file in the target folder and is moved into place with
`os.replace`, so a crash or a full disk never leaves a partial WAV under the final name.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import BinaryIO

import numpy as np

from imagintalk_plugin.core.errors import AudioFileError, OutputExistsError
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.core.signals import Waveform

ORIGINATOR = "ImaginTalk"
_PCM = 0x0001
_FLOAT = 0x0003
_EXTENSIBLE = 0xFFFE
_BEXT_FIXED_SIZE = 602  # every bext version: 256+32+32+10+8+4+4+2+64+10+180 bytes
_MAX_RIFF = 0xFFFFFFFF
# Sample frames converted to PCM at a time: a whole take at once costs about 5 float64 copies
# of it (a 3-minute take at 48 kHz: 350 MB) for the same bytes.
_PCM_BLOCK = 1 << 16


@dataclass(frozen=True)
class WavInfo:
    """What a WAV file's header says, without loading its samples."""

    sample_rate: int
    channels: int
    bit_depth: int
    is_float: bool
    num_frames: int  # samples per channel
    time_reference: int | None  # bext TimeReference, None for a plain WAV
    bext_version: int | None

    @property
    def duration_seconds(self) -> float:
        """Length in seconds (for display; use num_frames for exact arithmetic)."""
        return self.num_frames / self.sample_rate


@dataclass(frozen=True)
class _Parsed:
    info: WavInfo
    data_offset: int
    data_size: int


def write_bwf(
    path: str | Path,
    waveform: Waveform,
    *,
    time_reference: int,
    bit_depth: int = 24,
    bext_version: int = 2,
    description: str = "",
    originator_reference: str = "",
    origination: datetime | None = None,
    coding_history: str | None = None,
    force: bool = False,
) -> Path:
    """Write `waveform` as a Broadcast WAV placed at `time_reference` samples since midnight.

    Float samples are clipped to [-1, 1) and rounded to `bit_depth` (16 or 24) bits. Text
    fields are ASCII (other characters become '?') and cut to their field size. Raises
    `OutputExistsError` if `path` exists and not `force`, `AudioFileError` if it cannot be
    written.
    """
    path = Path(path)
    if bit_depth not in (16, 24):
        raise ValueError(f"bit_depth must be 16 or 24, not {bit_depth}")
    if bext_version not in (1, 2):
        raise ValueError(f"bext_version must be 1 or 2, not {bext_version}")
    if not 0 <= time_reference < 2**64:
        raise ValueError(f"time_reference must fit an unsigned 64-bit integer: {time_reference}")
    if path.exists() and not force:
        raise OutputExistsError(path)
    channels = waveform.num_channels
    if coding_history is None:
        mode = {1: "mono", 2: "stereo"}.get(channels, "multitrack")
        coding_history = f"A=PCM,F={waveform.sample_rate},W={bit_depth},M={mode},T={ORIGINATOR}"
    bext = _bext_chunk(
        description=description,
        originator_reference=originator_reference,
        origination=origination or datetime.now(),
        time_reference=time_reference,
        version=bext_version,
        coding_history=coding_history,
    )
    fmt = struct.pack(
        "<HHIIHH",
        _PCM,
        channels,
        waveform.sample_rate,
        waveform.sample_rate * channels * bit_depth // 8,
        channels * bit_depth // 8,
        bit_depth,
    )
    frames = waveform.samples.reshape(1, -1) if waveform.samples.ndim == 1 else waveform.samples
    data_size = frames.shape[1] * channels * (bit_depth // 8)
    head = b"WAVE" + _chunk(b"bext", bext) + _chunk(b"fmt ", fmt)
    body_size = len(head) + 8 + data_size + data_size % 2
    if body_size > _MAX_RIFF:
        raise AudioFileError(path, "audio too long for a RIFF WAVE file (over 4 GiB)")
    riff = b"RIFF" + struct.pack("<I", body_size) + head + b"data" + struct.pack("<I", data_size)
    blocks = (
        _pcm_bytes(frames[:, first : first + _PCM_BLOCK], bit_depth)
        for first in range(0, frames.shape[1], _PCM_BLOCK)
    )
    _write_atomic(path, chain([riff], blocks, [b"\0" * (data_size % 2)]))
    return path


def read_wav_info(path: str | Path) -> WavInfo:
    """Read a WAV/BWF header: rate, channels, sample format, length, bext TimeReference."""
    return _parse(Path(path)).info


def read_bwf_time_reference(path: str | Path) -> int:
    """The bext TimeReference of a Broadcast WAV, in samples since midnight.

    Raises `AudioFileError` for a plain WAV (no `bext` chunk) or an unreadable file.
    """
    info = read_wav_info(path)
    if info.time_reference is None:
        raise AudioFileError(path, "not a Broadcast WAV (no bext chunk)")
    return info.time_reference


def read_wav(path: str | Path) -> Waveform:
    """Load a WAV file's samples as float32 in [-1, 1]: shape (N,) mono or (C, N)."""
    path = Path(path)
    parsed = _parse(path)
    info = parsed.info
    width = info.bit_depth // 8
    try:
        with path.open("rb") as f:
            f.seek(parsed.data_offset)
            raw = f.read(info.num_frames * info.channels * width)
    except OSError as e:
        raise AudioFileError(path, e.strerror or str(e)) from e
    if info.is_float:
        samples = np.frombuffer(raw, dtype=f"<f{width}").astype(np.float32)
    elif width == 1:  # 8-bit WAV is unsigned
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        samples = (ints / float(1 << 23)).astype(np.float32)
    else:
        ints = np.frombuffer(raw, dtype=f"<i{width}")
        samples = (ints.astype(np.float64) / float(1 << (8 * width - 1))).astype(np.float32)
    frames = samples.reshape(-1, info.channels)  # (N, C) interleaved
    out = frames[:, 0].copy() if info.channels == 1 else np.ascontiguousarray(frames.T)
    return Waveform(samples=out, sample_rate=info.sample_rate)


def rewrite_as_bwf(
    src: str | Path,
    dst: str | Path,
    *,
    time_reference: int,
    bit_depth: int | None = None,
    description: str = "",
    originator_reference: str = "",
    force: bool = False,
) -> Path:
    """Re-write any readable WAV as a Broadcast WAV placed at `time_reference`.

    `bit_depth` None keeps 16 or 24-bit sources exactly; 8-bit becomes 16-bit and 32-bit or
    float sources become 24-bit (float values above full scale are clipped). `src` and `dst`
    may be the same file only with `force`.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and not force:
        raise OutputExistsError(dst)
    info = read_wav_info(src)
    if bit_depth is None:
        bit_depth = info.bit_depth if info.bit_depth in (16, 24) and not info.is_float else 24
        if info.bit_depth == 8:
            bit_depth = 16
    history = f"A=PCM,F={info.sample_rate},W={bit_depth},T={ORIGINATOR} re-wrap of {src.name}"
    return write_bwf(
        dst,
        read_wav(src),
        time_reference=time_reference,
        bit_depth=bit_depth,
        description=description,
        originator_reference=originator_reference,
        coding_history=history,
        force=True,
    )


def _bext_chunk(
    *,
    description: str,
    originator_reference: str,
    origination: datetime,
    time_reference: int,
    version: int,
    coding_history: str,
) -> bytes:
    history = coding_history if coding_history.endswith("\r\n") else coding_history + "\r\n"
    chunk = b"".join(
        (
            _ascii(description, 256),
            _ascii(ORIGINATOR, 32),
            _ascii(originator_reference, 32),
            _ascii(origination.strftime("%Y-%m-%d"), 10),
            _ascii(origination.strftime("%H:%M:%S"), 8),
            struct.pack("<IIH", time_reference & 0xFFFFFFFF, time_reference >> 32, version),
            bytes(64),  # UMID: none
            bytes(10),  # v2 loudness value/range, max true peak, momentary, short-term: unknown
            bytes(180),  # reserved
            history.encode("ascii", errors="replace"),
        )
    )
    assert len(chunk) == _BEXT_FIXED_SIZE + len(history)
    return chunk


def _ascii(text: str, size: int) -> bytes:
    return text.encode("ascii", errors="replace")[:size].ljust(size, b"\0")


def _chunk(chunk_id: bytes, payload: bytes) -> bytes:
    pad = b"\0" if len(payload) % 2 else b""  # RIFF chunks are word-aligned
    return chunk_id + struct.pack("<I", len(payload)) + payload + pad


def _pcm_bytes(samples: np.ndarray, bit_depth: int) -> bytes:
    """Interleaved little-endian PCM from (N,) or (C, N) floats."""
    frames = samples.reshape(1, -1) if samples.ndim == 1 else samples
    full = float(1 << (bit_depth - 1))
    scaled = np.nan_to_num(np.asarray(frames, dtype=np.float64)) * full
    ints = np.clip(np.rint(scaled), -full, full - 1)
    interleaved = ints.astype(np.int32).T.reshape(-1)  # (N * C,)
    if bit_depth == 16:
        return interleaved.astype("<i2").tobytes()
    as_bytes = interleaved.astype("<i4").view(np.uint8).reshape(-1, 4)
    return as_bytes[:, :3].tobytes()  # drop the sign-extension byte


def _parse(path: Path) -> _Parsed:
    try:
        with path.open("rb") as f:
            return _parse_stream(path, f, os.fstat(f.fileno()).st_size)
    except FileNotFoundError as e:
        raise AudioFileError(path, "file not found") from e
    except OSError as e:
        raise AudioFileError(path, e.strerror or str(e)) from e
    except struct.error as e:
        raise AudioFileError(path, "truncated or malformed WAV header") from e


def _parse_stream(path: Path, f: BinaryIO, file_size: int) -> _Parsed:
    head = f.read(12)
    if len(head) < 12 or head[8:12] != b"WAVE":
        raise AudioFileError(path, "not a WAV file (no RIFF WAVE header)")
    if head[:4] in (b"RF64", b"BW64"):
        raise AudioFileError(path, "RF64/BW64 (over 4 GiB) WAV files are not supported")
    if head[:4] != b"RIFF":
        raise AudioFileError(path, "not a WAV file (no RIFF WAVE header)")
    fmt = bext = None
    data_offset = data_size = None
    pos = 12
    while pos + 8 <= file_size:
        f.seek(pos)
        chunk_id, size = struct.unpack("<4sI", f.read(8))
        if chunk_id == b"fmt ":
            fmt = f.read(min(size, 64))
        elif chunk_id == b"bext":
            bext = f.read(min(size, _BEXT_FIXED_SIZE))
        elif chunk_id == b"data":
            data_offset = pos + 8
            # Streaming writers leave 0 or 0xFFFFFFFF here: trust the file's length instead.
            available = file_size - data_offset
            data_size = available if size in (0, _MAX_RIFF) or size > available else size
        pos += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16:
        raise AudioFileError(path, "no fmt chunk")
    if data_offset is None or data_size is None:
        raise AudioFileError(path, "no data chunk")
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # first two bytes of the SubFormat GUID
    if tag == _PCM and bits not in (8, 16, 24, 32):
        raise AudioFileError(path, f"unsupported PCM bit depth {bits}")
    if tag == _FLOAT and bits not in (32, 64):
        raise AudioFileError(path, f"unsupported float bit depth {bits}")
    if tag not in (_PCM, _FLOAT):
        raise AudioFileError(path, f"unsupported WAV encoding (format tag {tag:#06x})")
    if channels < 1 or rate < 1 or block_align != channels * bits // 8:
        raise AudioFileError(path, "inconsistent fmt chunk")
    time_reference = version = None
    if bext is not None and len(bext) >= 348:
        low, high, version = struct.unpack("<IIH", bext[338:348])
        time_reference = low | (high << 32)
    info = WavInfo(
        sample_rate=rate,
        channels=channels,
        bit_depth=bits,
        is_float=tag == _FLOAT,
        num_frames=data_size // block_align,
        time_reference=time_reference,
        bext_version=version,
    )
    return _Parsed(info=info, data_offset=data_offset, data_size=data_size)


def _write_atomic(path: Path, parts: Iterable[bytes]) -> None:
    """Write `parts` one after the other next to `path` under a temporary name (made as they
    are written, so a long take is never all in memory as bytes), then move it into place."""
    try:
        with atomic_path(path) as tmp, tmp.open("wb") as f:
            for part in parts:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise AudioFileError(path, e.strerror or str(e)) from e
