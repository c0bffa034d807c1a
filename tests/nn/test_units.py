"""50 Hz speech units: exact frame counts, CMVN, seeded k-means, codebook save/load, HuBERT."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from imagintalk_plugin.core import ModelLoadError, Progress, drive
from imagintalk_plugin.core.signals import TokenSequence
from imagintalk_plugin.nn.kmeans import fit_kmeans, iter_kmeans
from imagintalk_plugin.nn.unit_fitting import fit_unit_extractor
from imagintalk_plugin.nn.units import (
    HubertFeatures,
    UnitConfig,
    UnitExtractor,
    mfcc_dim,
    mfcc_features,
)

SR = 16000
SMALL = UnitConfig(num_units=8, kmeans_iters=15, max_fit_frames=2000)


def _tone(seconds: float, f0: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return sum(0.3 / h * np.sin(2 * np.pi * f0 * h * t) for h in range(1, 6)).astype(np.float32)


def _noise(seconds: float, rng: np.random.Generator) -> np.ndarray:
    return (0.2 * rng.standard_normal(int(seconds * SR))).astype(np.float32)


def _alternating(
    seed: int, blocks: int = 4, seconds: float = 0.4, f0: float | None = None
) -> np.ndarray:
    """Tone and noise blocks in turn: per-utterance CMVN needs contrast inside an utterance."""
    rng = np.random.default_rng(seed)
    parts = [
        _tone(seconds, f0 or 180 + 20 * seed) if i % 2 == 0 else _noise(seconds, rng)
        for i in range(blocks)
    ]
    return np.concatenate(parts)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def mfcc_units() -> UnitExtractor:
    return drive(fit_unit_extractor((_alternating(s) for s in range(4)), SMALL, total=4))


@pytest.mark.parametrize("n", [0, 1, 100, 319, 320, 321, 639, 640, 16000, 16001])
def test_mfcc_frame_count_is_exactly_len_over_hop(n):
    samples = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    feats = mfcc_features(samples, SMALL)
    assert feats.shape == (n // 320, 39) == (n // 320, mfcc_dim(SMALL))
    assert feats.dtype == torch.float32
    assert torch.isfinite(feats).all()


def test_mfcc_without_deltas_has_n_mfcc_columns():
    feats = mfcc_features(_tone(0.5), UnitConfig(use_deltas=False))
    assert feats.shape == (25, 13)


def test_cmvn_gives_zero_mean_unit_variance():
    feats = mfcc_features(_alternating(0), SMALL).double()  # (T, F)
    assert feats.mean(0).abs().max() < 1e-4
    assert (feats.std(0, unbiased=False) - 1).abs().max() < 1e-3


def test_silence_gives_zero_features_not_nan():
    feats = mfcc_features(np.zeros(3200, np.float32), SMALL)
    assert feats.shape == (10, 39)
    assert feats.abs().max() < 1e-6


def test_bad_input_and_config_are_value_errors():
    with pytest.raises(ValueError, match="mono"):
        mfcc_features(np.zeros((2, 320), np.float32), SMALL)
    with pytest.raises(ValueError, match="kind"):
        UnitConfig(kind="wavlm")
    with pytest.raises(ValueError, match="num_units"):
        UnitConfig(num_units="200")  # type: ignore[arg-type]


def _blobs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0, 0], [20, 0, 0], [0, 20, 0], [0, 0, 20]])  # (4, 3)
    labels = torch.arange(4).repeat_interleave(100)  # (400,)
    points = centres[labels] + torch.randn(400, 3, generator=g)  # (400, 3)
    return points, labels


def test_kmeans_recovers_separated_blobs():
    points, labels = _blobs()
    centroids = fit_kmeans(points, 4, iters=20, seed=0)
    ids = torch.cdist(points, centroids).argmin(1)
    mapping = {int(b): set(ids[labels == b].tolist()) for b in range(4)}
    assert all(len(found) == 1 for found in mapping.values())
    assert len(set().union(*mapping.values())) == 4


def test_kmeans_is_deterministic_per_seed():
    points = torch.rand(500, 2, generator=torch.Generator().manual_seed(1))
    a = fit_kmeans(points, 10, iters=10, seed=0)
    assert torch.equal(a, fit_kmeans(points, 10, iters=10, seed=0))
    assert not torch.equal(a, fit_kmeans(points, 10, iters=10, seed=1))


def test_kmeans_restarts_empty_clusters():
    corners = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = corners.repeat_interleave(50, dim=0)  # (150, 2) duplicated points
    init = corners[[0, 0, 1]]  # two identical centres: one of them gets no points at first
    centroids = fit_kmeans(points, 3, iters=10, seed=0, init=init)
    assert sorted(map(tuple, centroids.tolist())) == sorted(map(tuple, corners.tolist()))
    degenerate = fit_kmeans(corners[:2].repeat(10, 1), 3, iters=5, seed=0)  # 2 distinct, k=3
    assert torch.isfinite(degenerate).all()


def test_kmeans_needs_at_least_k_points_and_reports_iterations():
    with pytest.raises(ValueError, match="at least"):
        fit_kmeans(torch.zeros(3, 2), 4, iters=5, seed=0)
    steps: list[Progress] = []
    drive(iter_kmeans(_blobs()[0], 4, iters=20, seed=0), steps.append)
    assert all(s.stage == "k-means" and s.unit == "iter" for s in steps)
    assert steps[-1].done == steps[-1].total == 20  # early convergence still ends at 20/20


def test_fit_reports_progress_and_returns_extractor():
    job = fit_unit_extractor((_alternating(s) for s in range(3)), SMALL, total=3)
    steps: list[Progress] = []
    extractor = drive(job, steps.append)
    assert [(s.stage, s.done, s.total, s.unit) for s in steps[:3]] == [
        ("unit features", i, 3, "utt") for i in (1, 2, 3)
    ]
    assert {s.stage for s in steps[3:]} == {"k-means"}
    assert extractor.centroids.shape == (8, 39)
    with pytest.raises(ValueError, match="too few"):
        drive(fit_unit_extractor([_tone(0.05)], SMALL))


def test_fit_subsample_is_capped_and_seeded():
    config = UnitConfig(num_units=4, kmeans_iters=5, max_fit_frames=30)
    a = drive(fit_unit_extractor((_alternating(s) for s in range(3)), config))
    b = drive(fit_unit_extractor((_alternating(s) for s in range(3)), config))
    assert a.codebook_id == b.codebook_id


def test_units_are_a_50hz_token_sequence(mfcc_units):
    seq = mfcc_units.units(_alternating(7), SR)
    assert isinstance(seq, TokenSequence)
    assert seq.rate_hz == 50.0
    assert seq.tokens.dtype == np.int64
    assert seq.num_steps == len(_alternating(7)) // 320
    assert seq.is_compatible(mfcc_units.codebook_id, "1")
    assert mfcc_units.codebook_id.startswith("mfcc-k8-")
    assert len(mfcc_units.codebook_id) == len("mfcc-k8-") + 12
    assert mfcc_units.unit_ids(np.zeros(100, np.float32)).shape == (0,)


def test_wrong_sample_rate_is_a_value_error(mfcc_units):
    with pytest.raises(ValueError, match="resample"):
        mfcc_units.units(_tone(0.2), 22050)


def test_tone_and_noise_get_different_dominant_units(mfcc_units):
    ids = mfcc_units.unit_ids(_alternating(9, f0=210))  # unseen tone, noise, tone, noise
    blocks = ids.reshape(4, -1)[:, 3:-3]  # drop frames straddling a block edge
    tone, noise = blocks[0::2].ravel(), blocks[1::2].ravel()
    tone_top = np.bincount(tone, minlength=8).argmax()
    noise_top = np.bincount(noise, minlength=8).argmax()
    assert tone_top != noise_top
    assert np.mean(tone == tone_top) > 0.5
    assert np.mean(noise == tone_top) < 0.1


def test_save_load_round_trip(mfcc_units, tmp_path):
    mfcc_units.save(tmp_path / "units", meta={"corpus": "synthetic"})
    loaded = UnitExtractor.load(tmp_path / "units")
    assert torch.equal(loaded.centroids, mfcc_units.centroids)
    assert loaded.config == mfcc_units.config
    assert loaded.codebook_id == mfcc_units.codebook_id
    samples = _alternating(11)
    np.testing.assert_array_equal(loaded.unit_ids(samples), mfcc_units.unit_ids(samples))
    meta = json.loads((tmp_path / "units" / "config.json").read_text())["meta"]
    assert meta["corpus"] == "synthetic"
    assert meta["codebook_id"] == mfcc_units.codebook_id


def _tamper(folder: Path, change) -> None:
    path = folder / "config.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["config"].update(extra=1), "unknown config keys"),
        (lambda d: d["config"].pop("n_mels"), "missing config keys"),
        (lambda d: d.update(format="imagintalk/other"), "expected 'imagintalk/units'"),
        (lambda d: d["config"].update(num_units=9), "centroids are"),
        (lambda d: d["config"].update(kind="sound"), "kind"),
        (lambda d: d["meta"].update(codebook_id="mfcc-k8-000000000000"), "codebook_id"),
    ],
)
def test_tampered_codebook_is_a_model_load_error(mfcc_units, tmp_path, change, match):
    mfcc_units.save(tmp_path)
    _tamper(tmp_path, change)
    with pytest.raises(ModelLoadError, match=match):
        UnitExtractor.load(tmp_path)


def test_missing_codebook_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        UnitExtractor.load(tmp_path / "nothing")


@pytest.fixture(scope="module")
def tiny_hubert(tmp_path_factory) -> Path:
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    config = HubertConfig(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8,) * 7,
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
    )
    folder = tmp_path_factory.mktemp("hubert")
    HubertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def hubert_layer2(tiny_hubert) -> HubertFeatures:
    return HubertFeatures(tiny_hubert, layer=2)


@pytest.mark.parametrize("n", [0, 200, 320, 639, 1000, 8000])
def test_hubert_features_have_exact_frame_count(hubert_layer2, n):
    out = hubert_layer2(_noise(n / SR, np.random.default_rng(0)))
    assert out.shape == (n // 320, 16)
    assert out.dtype == torch.float32


def test_hubert_missing_or_bad_folder_is_a_model_load_error(tiny_hubert, tmp_path):
    with pytest.raises(ModelLoadError, match="no such folder"):
        HubertFeatures(tmp_path / "absent", layer=2)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="not a HuBERT checkpoint"):
        HubertFeatures(tmp_path, layer=2)
    with pytest.raises(ModelLoadError, match="layers"):
        HubertFeatures(tiny_hubert, layer=6)


def test_hubert_units_fit_save_and_load(tiny_hubert, tmp_path):
    copy = tmp_path / "hubert"
    shutil.copytree(tiny_hubert, copy)
    config = UnitConfig(kind="hubert", num_units=4, hubert_layer=2, kmeans_iters=5)
    with pytest.raises(ValueError, match="hubert_dir"):
        drive(fit_unit_extractor([_tone(0.2)], config))
    waves = [_alternating(s, blocks=2, seconds=0.2) for s in range(2)]
    extractor = drive(fit_unit_extractor(waves, config, hubert_dir=copy))
    assert extractor.codebook_id.startswith("hubert-k4-")
    extractor.save(tmp_path / "units")
    loaded = UnitExtractor.load(tmp_path / "units")
    np.testing.assert_array_equal(loaded.unit_ids(waves[0]), extractor.unit_ids(waves[0]))
    assert loaded.units(waves[0], SR).num_steps == len(waves[0]) // 320
    shutil.rmtree(copy)
    with pytest.raises(ModelLoadError, match="no such folder"):
        UnitExtractor.load(tmp_path / "units")
