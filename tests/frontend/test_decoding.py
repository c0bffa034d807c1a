"""Frame-accurate PyAV decoding: formats, CFR resampling, seeking, rotation, errors, real files.

Fixtures are tiny synthetic videos written with PyAV whose frames encode their own source frame
number n as flat gray levels: top half 10 + 8 * (n % 28), bottom half 10 + 8 * (n // 28).
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from imagintalk_plugin.core.errors import VideoReadError
from imagintalk_plugin.frontend import decoding, video_probe
from imagintalk_plugin.frontend.decoding import (
    DecodedFrame,
    count_output_frames,
    iter_frames,
    probe_video,
)

W, H = 64, 48


def _image(n: int, width: int = W, height: int = H) -> np.ndarray:
    """RGB image encoding frame number n (n < 784) in two flat halves."""
    image = np.empty((height, width, 3), np.uint8)
    image[: height // 2] = 10 + 8 * (n % 28)
    image[height // 2 :] = 10 + 8 * (n // 28)
    return image


def _number(gray: np.ndarray) -> int:
    """The frame number that `_image` encoded, read back from a decoded gray frame."""
    height = gray.shape[0]
    top = gray[2 : height // 2 - 2].mean()
    bottom = gray[height // 2 + 2 : height - 2].mean()
    return round((top - 10) / 8) + 28 * round((bottom - 10) / 8)


def _write(
    path: Path,
    n: int = 12,
    *,
    fmt: str | None = None,
    codec: str = "libx264",
    rate: int = 25,
    pts_ms: list[int] | None = None,
    size: tuple[int, int] = (W, H),
    gop: int | None = None,
    rotation: int | None = None,
    images: list[np.ndarray] | None = None,
    audio: str | None = None,
    container_options: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Encode a small synthetic video; `pts_ms` gives variable frame times in milliseconds."""
    width, height = size
    container = av.open(str(path), "w", format=fmt, options=container_options or {})
    if metadata:
        container.metadata.update(metadata)
    options = {"crf": "1"} if codec == "libx264" else {}
    stream = container.add_stream(codec, rate=rate, options=options)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"  # mjpeg: full range
    if codec != "libx264":
        stream.bit_rate = 4_000_000
    if gop is not None:
        stream.codec_context.gop_size = gop
    if pts_ms is not None:
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
    if rotation is not None:
        stream.set_display_rotation(rotation)
    audio_stream = container.add_stream(audio, rate=48000, layout="mono") if audio else None
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(
            images[i] if images is not None else _image(i, width, height), format="rgb24"
        )
        if pts_ms is not None:
            frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
    if audio_stream is not None:
        samples = audio_stream.codec_context.frame_size or 1152
        for i in range(int(n / rate * 48000 / samples) + 1):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, samples), np.float32 if audio == "aac" else np.int16),
                format="fltp" if audio == "aac" else "s16",
                layout="mono",
            )
            frame.sample_rate, frame.pts = 48000, i * samples
            container.mux(audio_stream.encode(frame))
        container.mux(audio_stream.encode())
    container.close()
    return path


def _numbers(frames: list[DecodedFrame]) -> list[int]:
    return [_number(f.gray) for f in frames]


def _supports(fmt: str, codec: str) -> bool:
    return fmt in av.formats_available and codec in av.codecs_available


FORMATS = [
    ("mp4", "mp4", "libx264"),
    ("mov", "mov", "libx264"),
    ("mkv", "matroska", "libx264"),
    ("mpg", "mpeg", "mpeg1video"),
    ("mpg", "mpeg", "mpeg2video"),
    ("mxf", "mxf", "mpeg2video"),
    ("avi", "avi", "mpeg4"),
    ("mkv", "matroska", "mjpeg"),
]


@pytest.mark.parametrize(("ext", "fmt", "codec"), FORMATS)
def test_formats_decode_every_frame(tmp_path: Path, ext: str, fmt: str, codec: str) -> None:
    if not _supports(fmt, codec):
        pytest.skip(f"this ffmpeg build lacks the {fmt} muxer or the {codec} encoder")
    path = _write(tmp_path / f"clip.{ext}", 12, fmt=fmt, codec=codec)
    info = probe_video(path)
    assert (info.width, info.height, info.rotation) == (W, H, 0)
    assert info.fps == pytest.approx(25.0)
    assert info.duration_s == pytest.approx(12 / 25, abs=0.045)
    assert not info.has_audio
    frames = list(iter_frames(path))
    assert _numbers(frames) == list(range(12))
    assert [f.index for f in frames] == list(range(12))
    assert frames[3].time_s == pytest.approx(3 / 25)
    gray = frames[0].gray
    assert gray.shape == (H, W)
    assert gray.dtype == np.uint8
    assert gray.flags.c_contiguous
    assert frames[0].rgb is None


@pytest.mark.parametrize("codec", ["libx264", "mjpeg"])
def test_gray_is_full_range_luma(tmp_path: Path, codec: str) -> None:
    """The fast Y-plane path matches FFmpeg's own gray conversion (limited and full range)."""
    path = _write(tmp_path / "clip.mkv", 3, fmt="matroska", codec=codec, size=(96, 64))
    reference = [f.to_ndarray(format="gray") for f in av.open(str(path)).decode(video=0)]
    frames = list(iter_frames(path))
    assert len(frames) == len(reference)
    for frame, gray in zip(frames, reference, strict=True):
        assert np.abs(frame.gray.astype(int) - gray).max() <= 1


@pytest.mark.parametrize("rate", [24, 30, 50])
def test_other_rates_resample_to_25(tmp_path: Path, rate: int) -> None:
    path = _write(tmp_path / f"r{rate}.mp4", 28, rate=rate)
    frames = list(iter_frames(path, fps=25.0))
    assert len(frames) == count_output_frames(0.0, 28 / rate, 25.0)
    assert _numbers(frames) == [int(k * rate / 25 + 1e-9) for k in range(len(frames))]


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_variable_frame_rate_is_resampled_by_timestamp(tmp_path: Path, ext: str) -> None:
    pts = [0, 40, 100, 110, 200, 260, 270, 330, 400, 480, 490, 560]
    path = _write(tmp_path / f"vfr.{ext}", len(pts), pts_ms=pts)
    frames = list(iter_frames(path, end_s=0.56))
    expected = [max(i for i, p in enumerate(pts) if p <= 40 * k) for k in range(14)]
    assert _numbers(frames) == expected  # e.g. source 3 (110 ms) is dropped, 1 is repeated
    late = list(iter_frames(path, start_s=0.26, end_s=0.56))
    assert _numbers(late) == [
        max(i for i, p in enumerate(pts) if p <= 260 + 40 * k) for k in range(8)
    ]


def test_range_starts_mid_gop_frame_accurately(tmp_path: Path) -> None:
    path = _write(tmp_path / "gop.mp4", 80, gop=50)
    frames = list(iter_frames(path, start_s=63 / 25, end_s=70 / 25, rgb_indices={2}))
    assert _numbers(frames) == list(range(63, 70))
    assert frames[0].time_s == pytest.approx(63 / 25)
    assert frames[2].rgb is not None
    assert frames[2].rgb.shape == (H, W, 3)
    assert all(f.rgb is None for i, f in enumerate(frames) if i != 2)
    assert _numbers(list(iter_frames(path, start_s=17 / 25, end_s=19 / 25))) == [17, 18]


@pytest.mark.parametrize(("ext", "fmt", "codec"), FORMATS)
def test_ranges_are_frame_accurate(tmp_path: Path, ext: str, fmt: str, codec: str) -> None:
    if not _supports(fmt, codec):
        pytest.skip(f"this ffmpeg build lacks the {fmt} muxer or the {codec} encoder")
    path = _write(tmp_path / f"clip.{ext}", 80, fmt=fmt, codec=codec, gop=12)
    for first in (0, 12, 45, 70):  # MPEG-PS seeks land late and mis-time frames: still exact
        frames = list(iter_frames(path, start_s=first / 25, end_s=(first + 6) / 25))
        assert _numbers(frames) == list(range(first, first + 6)), first
    assert _numbers(list(iter_frames(path, start_s=77 / 25))) == [77, 78, 79]  # no repeat


@pytest.mark.parametrize(("ext", "fmt", "codec"), [FORMATS[0], FORMATS[4]])
def test_late_range_decodes_only_near_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str, fmt: str, codec: str
) -> None:
    path = _write(tmp_path / f"long.{ext}", 300, fmt=fmt, codec=codec, gop=25)
    decoded: list[int] = []

    def counting(container: object, stream: object) -> object:
        for frame in video_probe.decoded_frames(container, stream):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(decoding, "decoded_frames", counting)
    frames = list(iter_frames(path, start_s=250 / 25, end_s=255 / 25))
    assert _numbers(frames) == list(range(250, 255))
    assert len(decoded) < 110  # a GOP (+ 2 s MPEG pre-roll), not the 255 frames before


def test_mpg_times_are_relative_to_the_stream_start(tmp_path: Path) -> None:
    path = _write(tmp_path / "clip.mpg", 30, fmt="mpeg", codec="mpeg2video")
    info = probe_video(path)
    assert info.start_s > 0.1  # MPEG-PS streams start late (ffmpeg's muxer: 0.54 s)
    assert info.duration_s == pytest.approx(30 / 25, abs=0.01)
    frames = list(iter_frames(path, start_s=0.4, end_s=0.6))
    assert _numbers(frames) == [10, 11, 12, 13, 14]
    assert [f.time_s for f in frames] == pytest.approx([0.4, 0.44, 0.48, 0.52, 0.56])


def test_rotation_is_applied(tmp_path: Path) -> None:
    upright = np.zeros((64, 48, 3), np.uint8)  # portrait, marker in the top-left corner
    upright[:16, :16] = 255
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # as a phone stores it: 64 x 48
    # Display matrix "rotate 90 degrees counter-clockwise" in PyAV's (and FFmpeg's) reading
    # convention, i.e. ffmpeg's "rotation of -90.00 degrees": shown turned 90 clockwise.
    path = _write(tmp_path / "rot.mp4", 3, size=(64, 48), rotation=-90, images=[stored] * 3)
    info = probe_video(path)
    assert (info.width, info.height, info.rotation) == (48, 64, 90)
    frame = next(iter(iter_frames(path, rgb_indices={0})))
    assert frame.gray.shape == (64, 48)
    assert frame.gray.flags.c_contiguous
    assert frame.gray[:16, :16].mean() > 200
    assert frame.gray[16:, 16:].mean() < 30
    assert frame.rgb is not None
    assert frame.rgb.shape == (64, 48, 3)


def test_portrait_and_odd_size(tmp_path: Path) -> None:
    portrait = _write(tmp_path / "portrait.mp4", 3, size=(720, 1280))
    info = probe_video(portrait)
    assert (info.width, info.height) == (720, 1280)
    frames = list(iter_frames(portrait))
    assert frames[0].gray.shape == (1280, 720)
    assert _numbers(frames) == [0, 1, 2]
    small = list(iter_frames(portrait, max_side=128))
    assert small[0].gray.shape == (128, 72)
    assert _numbers(small) == [0, 1, 2]
    odd = _write(tmp_path / "odd.mkv", 3, fmt="matroska", codec="mpeg4", size=(321, 241))
    assert (probe_video(odd).width, probe_video(odd).height) == (321, 241)
    frames = list(iter_frames(odd))
    assert frames[0].gray.shape == (241, 321)
    assert _numbers(frames) == [0, 1, 2]


@pytest.mark.parametrize(
    ("ext", "fmt", "codec", "audio"),
    [("mp4", "mp4", "libx264", "aac"), ("mpg", "mpeg", "mpeg2video", "mp2")],
)
def test_audio_stream_is_ignored(tmp_path: Path, ext: str, fmt: str, codec: str, audio: str):
    if audio not in av.codecs_available:
        pytest.skip(f"this ffmpeg build lacks the {audio} encoder")
    path = _write(tmp_path / f"av.{ext}", 10, fmt=fmt, codec=codec, audio=audio)
    assert probe_video(path).has_audio
    assert _numbers(list(iter_frames(path))) == list(range(10))


@pytest.mark.parametrize(("ext", "fmt", "codec"), [FORMATS[1], FORMATS[2], FORMATS[5]])
def test_timecode(tmp_path: Path, ext: str, fmt: str, codec: str) -> None:
    if not _supports(fmt, codec):
        pytest.skip(f"this ffmpeg build lacks the {fmt} muxer or the {codec} encoder")
    tc = "01:00:10:05"
    path = _write(tmp_path / f"tc.{ext}", 3, fmt=fmt, codec=codec, metadata={"timecode": tc})
    assert probe_video(path).timecode == tc  # mov: tmcd track, mkv: tag, mxf: material package
    if ext != "mxf":  # ffmpeg's mxf muxer always writes one (00:00:00:00 by default)
        untimed = _write(tmp_path / f"none.{ext}", 3, fmt=fmt, codec=codec)
        assert probe_video(untimed).timecode is None


def test_count_output_frames() -> None:
    assert count_output_frames(0.0, 3.0, 25.0) == 75
    assert count_output_frames(1.0, 1.12, 25.0) == 3
    assert count_output_frames(0.0, 0.041, 25.0) == 2
    assert count_output_frames(2.0, 2.0, 25.0) == 0
    assert count_output_frames(2.0, 1.0, 25.0) == 0


def _assert_read_error(path: Path, **kwargs: float) -> None:
    with pytest.raises(VideoReadError) as caught:
        list(iter_frames(path, **kwargs))
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_errors(tmp_path: Path) -> None:
    _assert_read_error(tmp_path / "missing.mp4")
    with pytest.raises(VideoReadError, match=r"missing\.mp4"):
        probe_video(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    _assert_read_error(text)
    with pytest.raises(VideoReadError, match=r"notes\.mp4"):
        probe_video(text)
    clip = _write(tmp_path / "clip.mp4", 10)
    _assert_read_error(clip, start_s=0.2, end_s=0.2)
    _assert_read_error(clip, start_s=0.3, end_s=0.1)
    _assert_read_error(clip, start_s=5.0)
    _assert_read_error(clip, start_s=5.0, end_s=6.0)
    sound = tmp_path / "sound.m4a"
    container = av.open(str(sound), "w", format="mp4")
    stream = container.add_stream("aac", rate=48000, layout="mono")
    frame = av.AudioFrame.from_ndarray(
        np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
    )
    frame.sample_rate, frame.pts = 48000, 0
    container.mux(stream.encode(frame))
    container.mux(stream.encode())
    container.close()
    with pytest.raises(VideoReadError, match="no video stream"):
        probe_video(sound)


def _decode_with_timeout(path: Path, seconds: float = 10.0) -> list[int] | VideoReadError:
    """Decode in a daemon thread so a hang fails the test instead of blocking the run."""
    result: list[list[int] | VideoReadError] = []

    def work() -> None:
        try:
            result.append(_numbers(list(iter_frames(path))))
        except VideoReadError as exc:
            result.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"decoding {path.name} hung"
    assert result, "decoding raised something other than VideoReadError"
    return result[0]


@pytest.mark.parametrize("faststart", [False, True])
def test_truncated_mp4_never_hangs(tmp_path: Path, faststart: bool) -> None:
    options = {"movflags": "faststart"} if faststart else None
    path = _write(tmp_path / "cut.mp4", 120, gop=12, container_options=options)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    result = _decode_with_timeout(path)
    if faststart:  # index first: the frames before the cut decode
        assert isinstance(result, list)
        assert len(result) >= 10
        assert result == list(range(len(result)))
    else:  # index (moov) at the end was cut off: nothing to decode
        assert isinstance(result, VideoReadError)


def test_truncated_mpg_decodes_up_to_the_damage(tmp_path: Path) -> None:
    path = _write(tmp_path / "cut.mpg", 40, fmt="mpeg", codec="mpeg2video")
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.6)])
    result = _decode_with_timeout(path)
    assert isinstance(result, list)
    assert len(result) >= 5
    assert result == list(range(len(result)))


@pytest.mark.realdata
def test_real_grid_mpg(realdata: Path) -> None:
    path = realdata / "video" / "GRID" / "bbaf2n.mpg"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    info = probe_video(path)
    assert (info.width, info.height, info.fps) == (360, 288, 25.0)
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    assert info.has_audio
    everything = list(iter_frames(path))
    assert len(everything) == count_output_frames(0.0, info.duration_s, 25.0)
    middle = list(iter_frames(path, start_s=1.0, end_s=2.2))
    assert len(middle) == count_output_frames(1.0, 2.2, 25.0) == 30
    for frame in middle:  # the imprecise MPEG-PS seek still lands on the right frames
        assert np.array_equal(frame.gray, everything[25 + frame.index].gray)
    reference = next(av.open(str(path)).decode(video=0)).to_ndarray(format="gray")
    assert np.array_equal(everything[0].gray, reference)  # BT.601 limited range: exact


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "has_audio"), [("d0", False), ("d13", False), ("d10", True)])
def test_real_liveportrait(realdata: Path, name: str, has_audio: bool) -> None:
    path = realdata / "video" / "LivePortrait" / f"{name}.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    info = probe_video(path)
    assert info.has_audio == has_audio
    assert info.rotation == 0
    assert info.duration_s > 2.5
    if name == "d13":
        assert (info.width, info.height) == (720, 1280)
    frames = list(iter_frames(path, start_s=1.0, end_s=2.0, rgb_indices={0}))
    assert len(frames) == count_output_frames(1.0, 2.0, 25.0) == 25
    assert frames[0].gray.shape == (info.height, info.width)
    assert frames[0].rgb is not None
    assert frames[0].rgb.shape == (info.height, info.width, 3)
    assert frames[0].time_s == pytest.approx(1.0)
