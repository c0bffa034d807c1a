"""Phonetic units: a phone net learnt from timed phones, its bottleneck clustered, saved and
loaded strictly; refused without timed phones."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from imagintalk_plugin.core import ModelLoadError, drive
from imagintalk_plugin.nn.phone_net import splice
from imagintalk_plugin.nn.unit_fitting import (
    SILENCE,
    fit_phonetic_units,
    fit_unit_extractor,
    frame_phones,
    phone_accuracy,
)
from imagintalk_plugin.nn.units import UnitConfig, UnitExtractor

SR = 16000
BLOCK = 0.4  # seconds per tone or noise block
CONFIG = UnitConfig(
    kind="phonetic",
    num_units=6,
    kmeans_iters=10,
    max_fit_frames=4000,
    phone_context=2,
    phone_hidden=32,
    phone_bottleneck=8,
    phone_epochs=8,
)


def _clip(seed: int) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """Tone, noise, tone, noise blocks, labelled 'a (stressed), s, a, s; then 0.2 s of quiet."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(BLOCK * SR)) / SR
    tone = (0.3 * np.sin(2 * np.pi * (200 + 10 * (seed % 12)) * t)).astype(np.float32)
    parts, spans = [], []
    for i in range(4):
        parts.append(tone if i % 2 == 0 else (0.2 * rng.standard_normal(len(t))).astype(np.float32))
        spans.append(("'a" if i % 2 == 0 else "s", i * BLOCK, (i + 1) * BLOCK))
    parts.append(
        np.zeros(int(0.2 * SR), np.float32)
        + 1e-3 * rng.standard_normal(int(0.2 * SR)).astype(np.float32)
    )
    return np.concatenate(parts), spans


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fitted() -> tuple[UnitExtractor, dict[str, float]]:
    return drive(fit_phonetic_units((_clip(s) for s in range(12)), CONFIG, total=12))


def test_frame_phones_strip_stress_and_mark_silence() -> None:
    phones = frame_phones([("'a", 0.0, 0.04), (",b", 0.04, 0.08)], 6, 50.0)
    assert phones == ["a", "a", "b", "b", SILENCE, SILENCE]


def test_splice_stacks_neighbours_with_repeated_edges() -> None:
    frames = torch.arange(3.0)[:, None]  # (3, 1)
    assert splice(frames, 1).tolist() == [[0, 0, 1], [0, 1, 2], [1, 2, 2]]


def test_the_phone_net_learns_the_phones_and_units_follow_them(fitted) -> None:
    units, metrics = fitted
    assert units.config.kind == "phonetic"
    assert units.codebook_id.startswith("phonetic-k6-")
    assert set(units.phones) == {"a", "s", SILENCE}
    assert metrics["timed_clips"] == 12
    assert metrics["phone_accuracy_train"] > 0.8  # the most frequent phone alone would score 0.44
    audio, _ = _clip(20)  # a clip the fit never saw
    ids = units.unit_ids(audio)
    per_block = int(BLOCK * 50)
    tone_ids = set(ids[5 : per_block - 5]) | set(ids[2 * per_block + 5 : 3 * per_block - 5])
    noise_ids = set(ids[per_block + 5 : 2 * per_block - 5])
    assert tone_ids.isdisjoint(noise_ids)
    assert phone_accuracy(units, [_clip(s) for s in range(20, 23)]) > 0.8


def test_save_and_load_give_the_same_units(fitted, tmp_path) -> None:
    units, _ = fitted
    units.save(tmp_path / "units")
    loaded = UnitExtractor.load(tmp_path / "units")
    audio, _ = _clip(21)
    assert loaded.codebook_id == units.codebook_id
    assert loaded.phones == units.phones
    assert np.array_equal(loaded.unit_ids(audio), units.unit_ids(audio))


def test_a_codebook_without_its_phone_list_is_refused(fitted, tmp_path) -> None:
    units, _ = fitted
    units.save(tmp_path / "units")
    path = tmp_path / "units" / "config.json"
    document = json.loads(path.read_text())
    del document["meta"]["phones"]
    path.write_text(json.dumps(document))
    with pytest.raises(ModelLoadError, match="phones"):
        UnitExtractor.load(tmp_path / "units")


def test_untimed_clips_or_the_wrong_fitter_are_refused() -> None:
    untimed = ((_clip(s)[0], []) for s in range(3))
    with pytest.raises(ValueError, match="timed phonemes"):
        drive(fit_phonetic_units(untimed, CONFIG))
    with pytest.raises(ValueError, match="fit_phonetic_units"):
        drive(fit_unit_extractor([_clip(0)[0]], CONFIG))
    with pytest.raises(ValueError, match="'phonetic' unit config"):
        drive(fit_phonetic_units([_clip(0)], replace(CONFIG, kind="mfcc")))


def test_untimed_clips_still_feed_the_codebook() -> None:
    """Real clips (no phone spans) add frames to the k-means beside the timed ones."""
    clips = [_clip(s) for s in range(8)] + [(_clip(s)[0], []) for s in range(8, 12)]
    units, metrics = drive(fit_phonetic_units(clips, CONFIG))
    assert metrics["timed_clips"] == 8
    assert units.centroids.shape == (6, 8)
