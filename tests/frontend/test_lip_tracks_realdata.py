"""The front-end on real footage: GRID speakers and LivePortrait portraits from ../shared."""

from pathlib import Path

import numpy as np
import pytest

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.frontend.alignment import (
    MOUTH_CROP_SIZE,
    apply_transform,
    mouth_crop_transforms,
    reference_landmarks,
)
from imagintalk_plugin.frontend.expressions import EXPRESSION_FEATURES
from imagintalk_plugin.frontend.face_models import shared_face_models
from imagintalk_plugin.frontend.lip_track_builder import build_lip_track

pytestmark = pytest.mark.realdata

GRID = ["bbaf2n", "brbk7n", "id2_vcd_swwp2s", "lbax4n", "lbbc2a", "lrwp9a"]
PORTRAITS = ["d0", "d3", "d6", "d9", "d10", "d11", "d12", "d13", "d14", "d18", "d19", "d20"]


def _clip(realdata: Path, name: str) -> Path:
    folder = "GRID" if name in GRID else "LivePortrait"
    path = realdata / "video" / folder / (f"{name}.mpg" if folder == "GRID" else f"{name}.mp4")
    if not path.is_file():
        pytest.skip(f"{path} not in the shared real data")
    return path


@pytest.mark.parametrize("name", GRID + PORTRAITS)
def test_face_found_and_mouth_centred(realdata: Path, name: str) -> None:
    path = _clip(realdata, name)
    end = None if name in GRID else 2.0  # portraits: the first two seconds keep this quick
    prepared = drive(build_lip_track(path, 0.0, end, clip_id=name))
    track = prepared.track
    assert track.num_frames >= 50
    assert prepared.frames_found >= 0.99 * track.num_frames
    assert track.valid.mean() >= 0.99
    assert track.mouth_crops.shape[1:] == (96, 96)
    assert track.mouth_crops.dtype == np.uint8
    assert track.mouth_crops[track.valid].std() > 10  # real picture, not a blank
    assert track.face_crop is not None
    assert track.face_crop.std() > 10
    assert np.linalg.norm(track.face_embedding) > 0.5
    assert np.isfinite(track.expressions).all()

    # The raw (unsmoothed) mouth lands in the middle of the crop made from smoothed landmarks.
    reference = reference_landmarks(shared_face_models().mean_shape)
    transforms = mouth_crop_transforms(track.landmarks, track.valid, reference)
    centres = np.stack(
        [
            apply_transform(m, p[48:68]).mean(0)
            for m, p in zip(transforms, track.landmarks, strict=True)
        ]
    )[track.valid]
    offset = np.linalg.norm(centres - MOUTH_CROP_SIZE / 2, axis=1).mean()
    assert offset < 0.10 * MOUTH_CROP_SIZE


def _align_words(path: Path) -> list[tuple[int, int, str]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(round(int(a) / 1000), round(int(b) / 1000), word) for a, b, word in rows]


def _peaks(signal: np.ndarray, prominence: float) -> int:
    """Local maxima rising at least `prominence` above the lowest point on each side."""
    count = 0
    for i in range(1, len(signal) - 1):
        if signal[i] >= signal[i - 1] and signal[i] > signal[i + 1]:
            left, right = signal[: i + 1].min(), signal[i:].min()
            left = signal[max(0, i - 8) : i + 1].min()
            right = signal[i : i + 9].min()
            if signal[i] - max(left, right) >= prominence:
                count += 1
    return count


def test_mouth_opening_follows_the_spoken_syllables(realdata: Path) -> None:
    """GRID 'set white with p two soon': the lips open and close word by word."""
    words = _align_words(realdata / "video" / "GRID" / "swwp2s.align")
    track = drive(build_lip_track(_clip(realdata, "id2_vcd_swwp2s"), 0.0, None, clip_id="g")).track
    opening = track.expressions[:, EXPRESSION_FEATURES.index("mouth_open")]
    speech = [(a, b) for a, b, w in words if w != "sil"]
    start, end = speech[0][0], speech[-1][1]
    tail = next(a for a, b, w in words if w == "sil" and a >= end)
    in_speech = opening[start:end]
    # Several open-close cycles while speaking (six one-syllable words).
    assert _peaks(in_speech, prominence=0.015) >= 4
    # The bilabial 'p' closes the lips between 'with' and 'two'.
    p_start, _p_end = next((a, b) for a, b, w in words if w == "p")
    assert opening[p_start - 2 : p_start + 3].min() < 0.35 * in_speech.max()
    # Closed, still lips after the sentence.
    assert opening[tail + 3 :].mean() < 0.3 * in_speech.mean()
    assert opening[tail + 3 :].std() < in_speech.std()
