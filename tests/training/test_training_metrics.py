"""Training metrics (unit accuracy, edit distance, AUC, detector scores) and batch assembly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from imagintalk_plugin.nn.sequences import pad_sequences
from imagintalk_plugin.training.loops.corpus import (
    IGNORE,
    LipClip,
    item_rng,
    lip_batch,
    time_mask_spans,
    unit_targets,
)
from imagintalk_plugin.training.loops.metrics import (
    dedupe,
    detector_scores,
    edit_distance,
    majority_baseline,
    roc_auc,
    unit_scores,
)


def test_dedupe_collapses_runs() -> None:
    np.testing.assert_array_equal(dedupe(np.array([3, 3, 5, 5, 3])), [3, 5, 3])
    np.testing.assert_array_equal(dedupe(np.array([7])), [7])
    np.testing.assert_array_equal(dedupe(np.array([1, 2, 3])), [1, 2, 3])
    assert len(dedupe(np.array([], dtype=np.int64))) == 0


@pytest.mark.parametrize(
    ("hyp", "ref", "distance"),
    [
        # kitten -> sitting: k=1 i=2 t=3 e=4 n=5 s=6 g=7
        ([1, 2, 3, 3, 4, 5], [6, 2, 3, 3, 2, 5, 7], 3),
        ([], [], 0),
        ([], [1, 2, 3], 3),
        ([4, 5], [], 2),
        ([1, 2, 3], [1, 2, 3], 0),
        ([1, 2, 3], [3, 2, 1], 2),
        ([1, 2, 3, 4], [2, 3, 4, 5], 2),
    ],
)
def test_edit_distance_known_pairs(hyp: list[int], ref: list[int], distance: int) -> None:
    assert edit_distance(hyp, ref) == distance
    assert edit_distance(ref, hyp) == distance
    assert edit_distance(np.array(hyp, dtype=np.int64), np.array(ref, dtype=np.int64)) == distance


def test_unit_scores_perfect_and_known() -> None:
    refs = [np.array([1, 1, 2, 2, 3]), np.array([4, 4, 4])]
    perfect = unit_scores(refs, refs)
    assert perfect == {"unit_acc": 1.0, "unit_edit": 0.0}
    preds = [np.array([1, 1, 2, 5, 3]), np.array([4, 4, 4])]
    scores = unit_scores(preds, refs)
    assert scores["unit_acc"] == pytest.approx(7 / 8)
    # deduped: [1, 2, 5, 3] vs [1, 2, 3] -> 1 insertion; [4] vs [4] -> 0; ref length 3 + 1
    assert scores["unit_edit"] == pytest.approx(1 / 4)


def test_unit_scores_truncates_mismatched_lengths() -> None:
    ref = np.array([1, 2, 3, 4])
    longer = np.array([1, 2, 3, 4, 9, 9, 9])
    assert unit_scores([longer], [ref]) == {"unit_acc": 1.0, "unit_edit": 0.0}
    shorter = np.array([1, 2])
    assert unit_scores([shorter], [ref]) == {"unit_acc": 1.0, "unit_edit": 0.0}
    with pytest.raises(ValueError, match="longer"):  # the lists themselves must pair up
        unit_scores([ref], [ref, ref])


def test_majority_baseline_answers_the_most_frequent_training_unit() -> None:
    train = [np.array([2, 2, 5]), np.array([5, 5, 5, 1])]  # 5 is the most frequent
    refs = [np.array([5, 5, 2, 2]), np.array([5, 1])]
    scores = majority_baseline(train, refs)
    expected = unit_scores([np.full(4, 5), np.full(2, 5)], refs)
    assert scores == expected
    assert scores["unit_acc"] == pytest.approx(3 / 6)
    # a different winner gives a different answer
    assert majority_baseline([np.array([2, 2, 2])], refs)["unit_acc"] == pytest.approx(2 / 6)


def test_roc_auc_extremes_ties_and_one_class() -> None:
    labels = np.array([0, 0, 1, 1])
    assert roc_auc(np.array([0.1, 0.2, 0.8, 0.9]), labels) == 1.0
    assert roc_auc(np.array([0.9, 0.8, 0.2, 0.1]), labels) == 0.0
    assert roc_auc(np.full(4, 0.3), labels) == 0.5
    assert math.isnan(roc_auc(np.array([0.1, 0.5]), np.array([1, 1])))
    assert math.isnan(roc_auc(np.array([0.1, 0.5]), np.array([0, 0])))


def _brute_force_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos = scores[labels.astype(bool)]
    neg = scores[~labels.astype(bool)]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_matches_pairwise_count(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 60
    labels = rng.random(n) < 0.3
    labels[:2] = [True, False]
    scores = rng.integers(0, 8, n).astype(np.float64) + labels * rng.random(n)  # many ties
    assert roc_auc(scores, labels) == pytest.approx(_brute_force_auc(scores, labels))


def test_detector_scores_on_a_hand_made_example() -> None:
    probs = np.array([0.9, 0.8, 0.6, 0.4, 0.3, 0.1])
    wrong = np.array([1, 0, 1, 1, 0, 0])
    scores = detector_scores(probs, wrong, threshold=0.5)
    # flagged: 0, 1, 2; wrong: 0, 2, 3; hits: 0, 2
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["error_rate"] == pytest.approx(0.5)
    assert scores["flagged_rate"] == pytest.approx(0.5)
    assert scores["auc"] == pytest.approx(_brute_force_auc(probs, wrong))
    # the threshold is inclusive
    assert detector_scores(probs, wrong, threshold=0.4)["recall"] == 1.0
    nothing = detector_scores(probs, wrong, threshold=0.95)
    assert nothing["precision"] == 0.0
    assert nothing["flagged_rate"] == 0.0


def test_unit_targets_pads_or_truncates() -> None:
    short = unit_targets(np.array([1, 2, 3, 4, 5, 6]), frames=5)
    np.testing.assert_array_equal(short, [1, 2, 3, 4, 5, 6, IGNORE, IGNORE, IGNORE, IGNORE])
    assert short.dtype == np.int64
    long = unit_targets(np.arange(14), frames=5)
    np.testing.assert_array_equal(long, np.arange(10))
    np.testing.assert_array_equal(unit_targets(np.array([], dtype=np.int64), 2), [IGNORE] * 4)


def test_pad_sequences_pads_and_masks() -> None:
    values, pad = pad_sequences([np.array([[1.0], [2.0]]), np.array([[3.0]])], value=-1.0)
    assert values.shape == (2, 2, 1)
    torch.testing.assert_close(values[:, :, 0], torch.tensor([[1.0, 2.0], [3.0, -1.0]]).double())
    assert pad.tolist() == [[False, False], [False, True]]


def _clip(frames: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, 96, 96), dtype=np.uint8)


def test_lip_batch_shapes_padding_and_centre_crop() -> None:
    clips = [_clip(3, 0), _clip(6, 1)]
    targets = [unit_targets(np.arange(6) + 10, 3), unit_targets(np.arange(12) + 20, 6)]
    batch = lip_batch([LipClip(c) for c in clips], targets, crop_size=88, max_frames=50)
    assert batch.crops.shape == (2, 6, 88, 88)
    assert batch.crops.dtype == torch.float32
    assert batch.pad.tolist() == [[False] * 3 + [True] * 3, [False] * 6]
    assert batch.targets.shape == (2, 12)
    assert batch.targets[0].tolist() == list(range(10, 16)) + [IGNORE] * 6
    assert batch.targets[1].tolist() == list(range(20, 32))
    for i, clip in enumerate(clips):
        expected = torch.from_numpy(clip[:, 4:92, 4:92].astype(np.float32) / 255.0)
        torch.testing.assert_close(batch.crops[i, : len(clip)], expected)
    assert (batch.crops[0, 3:] == 0).all()
    again = lip_batch([LipClip(c) for c in clips], targets, crop_size=88, max_frames=50)
    assert torch.equal(again.crops, batch.crops)
    assert torch.equal(again.targets, batch.targets)


def test_lip_batch_without_rngs_cuts_long_clips_from_the_start() -> None:
    frames = 10
    clip = np.repeat(np.arange(frames, dtype=np.uint8)[:, None, None], 96, 1).repeat(96, 2)
    batch = lip_batch([LipClip(clip)], [np.arange(2 * frames)], crop_size=88, max_frames=4)
    assert batch.crops.shape == (1, 4, 88, 88)
    assert (batch.crops[0, :, 0, 0] * 255).round().long().tolist() == [0, 1, 2, 3]
    assert batch.targets[0].tolist() == list(range(8))


def test_lip_batch_random_window_keeps_targets_with_their_frames() -> None:
    frames, max_frames, scale = 20, 6, 10
    # every pixel of frame f is f * scale, so the chosen frames can be read back from the crops
    clip = np.repeat((np.arange(frames) * scale).astype(np.uint8)[:, None, None], 96, 1)
    clip = clip.repeat(96, 2)
    units = np.arange(2 * frames) + 100  # step s of frame f: 2f and 2f + 1
    short = _clip(3, 5)
    starts = set()
    for step in range(8):
        rngs = [item_rng(0, step, 0), item_rng(0, step, 1)]
        batch = lip_batch(
            [LipClip(clip), LipClip(short)],
            [unit_targets(units, frames), unit_targets(np.arange(6), 3)],
            crop_size=88,
            max_frames=max_frames,
            rngs=rngs,
        )
        assert batch.crops.shape == (2, max_frames, 88, 88)
        chosen = (batch.crops[0] * 255 / scale).round().long()
        assert (chosen == chosen[:, :1, :1]).all()  # flips and crops keep a frame uniform
        index = chosen[:, 0, 0]
        start = int(index[0])
        assert index.tolist() == list(range(start, start + max_frames))
        expected = [100 + 2 * f + h for f in index.tolist() for h in (0, 1)]
        assert batch.targets[0].tolist() == expected
        assert not batch.pad[0].any()
        # the short clip is not cut, only padded
        assert batch.pad[1].tolist() == [False] * 3 + [True] * 3
        assert batch.targets[1].tolist() == list(range(6)) + [IGNORE] * 6
        starts.add(start)
    assert len(starts) > 1  # the window really moves


def test_lip_batch_random_crop_stays_inside_and_is_seeded() -> None:
    clip = _clip(4, 9)
    targets = [unit_targets(np.arange(8), 4)]
    a = lip_batch([LipClip(clip)], targets, crop_size=88, max_frames=50, rngs=[item_rng(3, 1, 0)])
    b = lip_batch([LipClip(clip)], targets, crop_size=88, max_frames=50, rngs=[item_rng(3, 1, 0)])
    assert torch.equal(a.crops, b.crops)
    # the crop is some 88x88 window of the clip, possibly mirrored
    found = False
    frame = a.crops[0, 0].numpy()
    for top in range(9):
        for left in range(9):
            window = clip[0, top : top + 88, left : left + 88].astype(np.float32) / 255.0
            if np.array_equal(frame, window) or np.array_equal(frame, window[:, ::-1]):
                found = True
    assert found


def test_paired_gain_interval_covers_a_steady_gain_and_straddles_noise() -> None:
    from imagintalk_plugin.training.loops.metrics import paired_gain_interval

    counts = np.full(200, 100)
    steady = np.full(200, 2)  # every clip +2 of 100 steps: +0.02, whatever the draw
    assert paired_gain_interval(steady, counts) == pytest.approx((0.02, 0.02))
    noise = np.random.default_rng(0).choice([-3, 3], 200)  # as many clips better as worse
    low, high = paired_gain_interval(noise, counts)
    assert low < 0 < high
    assert high - low == pytest.approx(2 * 1.96 * 0.03 / np.sqrt(200), rel=0.2)  # the SE
    shifted = paired_gain_interval(noise + 1, counts)  # +1 per clip: the interval moves up
    assert shifted[0] > 0
    assert paired_gain_interval(noise, counts, seed=1) != (low, high)  # resampled, seeded
    assert paired_gain_interval(noise, counts) == (low, high)
    assert np.isnan(paired_gain_interval(np.array([]), np.array([]))[0])


def test_time_mask_spans_one_per_started_second_within_the_crop() -> None:
    rng = np.random.default_rng(0)
    for frames in (1, 24, 25, 26, 75, 150):
        spans = time_mask_spans(frames, 10, rng)
        assert len(spans) == -(-frames // 25)
        for span in spans:
            assert 0 <= span.start <= span.stop <= frames
            assert span.stop - span.start <= 10
    lengths = [s.stop - s.start for _ in range(50) for s in time_mask_spans(75, 10, rng)]
    assert min(lengths) == 0
    assert max(lengths) == 10  # every length 0..10 is drawn
    assert time_mask_spans(75, 0, rng) == []


def test_lip_batch_time_masking_replaces_frames_with_the_mean_frame() -> None:
    clip = np.random.default_rng(5).integers(0, 256, size=(75, 96, 96), dtype=np.uint8)
    targets = [unit_targets(np.arange(150), 75)]
    args = {"crop_size": 88, "max_frames": 150}
    plain = lip_batch([LipClip(clip)], targets, **args, rngs=[item_rng(3, 1, 0)])
    masked = lip_batch(
        [LipClip(clip)], targets, **args, rngs=[item_rng(3, 1, 0)], time_mask_frames=10
    )
    # same window, crop and mirror (drawn before the spans); only the masked frames differ
    changed = (plain.crops != masked.crops).flatten(2).any(dim=2)[0]  # (T,)
    assert 0 < int(changed.sum()) <= 3 * 10
    mean = plain.crops[0].mean(dim=0)
    for t in torch.nonzero(changed)[:, 0].tolist():
        assert torch.allclose(masked.crops[0, t], mean, atol=1e-6)
    assert torch.equal(plain.targets, masked.targets)  # the units to read stay
    again = lip_batch(
        [LipClip(clip)], targets, **args, rngs=[item_rng(3, 1, 0)], time_mask_frames=10
    )
    assert torch.equal(masked.crops, again.crops)  # seeded
    centre = lip_batch([LipClip(clip)], targets, **args, time_mask_frames=10)
    assert torch.equal(centre.crops, lip_batch([LipClip(clip)], targets, **args).crops)


def test_the_demo_and_paper_lip_readers_train_with_time_masking() -> None:
    from imagintalk_plugin.training.presets import TIME_MASK_FRAMES, semantic_preset

    assert TIME_MASK_FRAMES > 0
    for name in ("demo", "paper"):
        preset = semantic_preset(name)
        assert preset.aligner_train.time_mask_frames == TIME_MASK_FRAMES
        assert preset.fold_train.time_mask_frames == TIME_MASK_FRAMES  # the detector's readers
    assert semantic_preset("tiny").aligner_train.time_mask_frames == 0
