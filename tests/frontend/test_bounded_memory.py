"""The front-end streams: a longer clip costs its lip track, never its decoded frames.

Decoding keeps one frame at a time, and `build_lip_track` (two passes over the decoded
frames) holds per frame only what the LipTrack keeps (a 96x96 uint8 crop, landmarks,
expressions), so the same real face looped four times costs a few kB a frame more, not the
104 kB of each 360x288 gray frame. Measured with tracemalloc, which sees numpy's buffers.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from video_fixtures import read_rgb_frames, write_video

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.frontend.decoding import iter_frames
from imagintalk_plugin.frontend.face_models import release_shared_face_models, shared_face_models
from imagintalk_plugin.frontend.lip_track_builder import build_lip_track

LOOPS = 4
# measured 4.9 kB a frame (crop, landmarks, the tracker's points); holding the decoded gray
# frames would be 115 kB a frame
PER_FRAME_BYTES = 20_000


@pytest.fixture(scope="module")
def grid_videos(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real GRID take (75 frames, 360x288) once and looped LOOPS times."""
    source = realdata / "video" / "GRID" / "bbaf2n.mpg"
    if not source.is_file():
        pytest.skip(f"{source} not in the shared real data")
    frames = read_rgb_frames(source)
    folder = tmp_path_factory.mktemp("looped")
    once = write_video(folder / "once.mp4", frames)
    return once, write_video(folder / "loops.mp4", frames * LOOPS)


def _traced_peak(run: Callable[[], object]) -> int:
    """Peak bytes numpy and Python allocated while `run` ran."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _decode_all(path: Path) -> int:
    count = 0
    for frame in iter_frames(path):
        count += frame.gray.shape[0] > 0
    return count


def test_decoding_holds_one_frame_at_a_time(grid_videos: tuple[Path, Path]) -> None:
    once, loops = grid_videos
    frame_bytes = 360 * 288
    _decode_all(once)  # warm: codecs opened once, lookup tables built
    growth = _traced_peak(lambda: _decode_all(loops)) - _traced_peak(lambda: _decode_all(once))
    assert growth < 3 * frame_bytes, f"{growth / 1e6:.1f} MB more for {LOOPS}x the frames"


def test_a_longer_clip_costs_only_its_lip_track(grid_videos: tuple[Path, Path]) -> None:
    once, loops = grid_videos
    tracks = {}

    def build(path: Path) -> Callable[[], object]:
        def run() -> None:
            tracks[path] = drive(build_lip_track(path, 0.0, None, clip_id=path.stem)).track

        return run

    build(once)()  # models loaded and first-call caches filled before, counted in neither
    short_peak = _traced_peak(build(once))
    long_peak = _traced_peak(build(loops))
    extra = tracks[loops].num_frames - tracks[once].num_frames
    assert extra == (LOOPS - 1) * tracks[once].num_frames
    assert tracks[loops].valid.mean() > 0.9
    assert tracks[loops].mouth_crops.dtype == np.uint8
    growth = long_peak - short_peak
    assert 0 < growth < extra * PER_FRAME_BYTES, f"{growth / extra:.0f} bytes a frame"


def test_released_face_models_are_loaded_again_when_next_needed() -> None:
    first = shared_face_models()
    release_shared_face_models()
    again = shared_face_models()
    assert again is not first
    assert again is shared_face_models()
    np.testing.assert_array_equal(again.mean_shape, first.mean_shape)
