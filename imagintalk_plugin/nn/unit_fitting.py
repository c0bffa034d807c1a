"""Fitting a unit codebook: k-means over a seeded sample of frame features, and for the
`phonetic` kind, the phone net those features come from first.

A `phonetic` fit needs clips whose phones are timed (ImaginTalk-Synth manifests carry
espeak-ng or Kokoro phoneme spans); clips without spans (real corpora) still give frames to
the k-means, so the codebook covers real voices too, but teach the net nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.nn.kmeans import iter_kmeans
from imagintalk_plugin.nn.phone_net import fit_phone_net, frame_accuracy
from imagintalk_plugin.nn.units import (
    HubertFeatures,
    UnitConfig,
    UnitExtractor,
    mfcc_dim,
    mfcc_features,
    spliced_dim,
    spliced_mfcc,
)

SILENCE = "_"  # the phone of frames outside every span of a timed clip
PhoneSpan = tuple[str, float, float]  # (phone, start s, end s)


class FrameSample:
    """A uniform, seeded subset of at most `cap` frames from a stream, in O(cap) memory.

    Each frame gets a random key; the `cap` smallest keys are kept (merged lazily).
    """

    def __init__(self, cap: int, dim: int, seed: int) -> None:
        self.cap = cap
        self.generator = torch.Generator().manual_seed(seed)
        self.keys: list[torch.Tensor] = [torch.zeros(0)]
        self.rows: list[torch.Tensor] = [torch.zeros(0, dim)]
        self.count = 0

    def add(self, frames: torch.Tensor) -> None:
        self.keys.append(torch.rand(frames.shape[0], generator=self.generator))  # (T,)
        self.rows.append(frames)  # (T, F)
        self.count += frames.shape[0]
        if self.count > 2 * self.cap:
            self.compact()

    def compact(self) -> torch.Tensor:
        keys, rows = torch.cat(self.keys), torch.cat(self.rows)  # (M,), (M, F)
        if keys.shape[0] > self.cap:
            keep = keys.topk(self.cap, largest=False).indices.sort().values  # (cap,)
            keys, rows = keys[keep], rows[keep]
        self.keys, self.rows, self.count = [keys], [rows], keys.shape[0]
        return rows


def fit_unit_extractor(
    waveforms: Iterable[np.ndarray],
    config: UnitConfig,
    *,
    total: int | None = None,
    hubert_dir: Path | None = None,
) -> Job[UnitExtractor]:
    """Fit a unit codebook on mono waveforms at config.sample_rate (a Job yielding Progress).

    Yields Progress("unit features", i, total, unit="utt") per utterance, then one per k-means
    iteration; at most `max_fit_frames` frames, a seeded uniform subsample, are clustered.
    """
    if config.kind == "phonetic":
        raise ValueError("a 'phonetic' unit config is fitted by fit_phonetic_units (timed phones)")
    hubert = None
    if config.kind == "hubert":
        if hubert_dir is None:
            raise ValueError("a 'hubert' unit config needs hubert_dir (a local HuBERT folder)")
        hubert = HubertFeatures(Path(hubert_dir), config.hubert_layer, config.hop)
    elif hubert_dir is not None:
        raise ValueError("hubert_dir is only used with a 'hubert' unit config")
    dim = hubert.dim if hubert is not None else mfcc_dim(config)
    sample = FrameSample(config.max_fit_frames, dim, config.seed)
    for i, samples in enumerate(waveforms, start=1):
        sample.add(hubert(samples) if hubert is not None else mfcc_features(samples, config))
        yield Progress("unit features", i, total or 0, unit="utt")
    frames = sample.compact()  # (N, F)
    if frames.shape[0] < config.num_units:
        raise ValueError(
            f"{frames.shape[0]} frames are too few to fit {config.num_units} units "
            "(give more audio or fewer units)"
        )
    centroids = yield from iter_kmeans(
        frames, config.num_units, iters=config.kmeans_iters, seed=config.seed
    )
    return UnitExtractor(config, centroids, hubert)


def phone_label(label: str) -> str:
    """A span's phone without espeak-ng's stress marks (`'a` and `,a` are the phone `a`)."""
    return label.lstrip("',") or SILENCE


def frame_phones(spans: Sequence[PhoneSpan], frames: int, rate_hz: float) -> list[str]:
    """The phone of each of `frames` unit frames: a span's phone inside it, SILENCE outside."""
    phones = [SILENCE] * frames
    for label, start, end in spans:
        for t in range(max(0, int(start * rate_hz)), min(int(end * rate_hz), frames)):
            phones[t] = phone_label(label)
    return phones


def fit_phonetic_units(
    clips: Iterable[tuple[np.ndarray, Sequence[PhoneSpan]]],
    config: UnitConfig,
    *,
    total: int | None = None,
) -> Job[tuple[UnitExtractor, dict[str, float]]]:
    """Fit a `phonetic` codebook on (mono 16 kHz samples, phone spans) clips: the phone net on
    the timed clips' frames, then k-means over its bottleneck of all sampled frames.

    Returns the extractor and {"phone_accuracy_train": frame accuracy on the sampled labelled
    frames, "timed_clips": how many clips had spans}. A ValueError if no clip is timed.
    """
    if config.kind != "phonetic":
        raise ValueError(f"fit_phonetic_units needs a 'phonetic' unit config, got '{config.kind}'")
    width = spliced_dim(config)
    sample = FrameSample(config.max_fit_frames, width + 1, config.seed)  # + the phone index
    index: dict[str, int] = {}
    timed = 0
    for i, (samples, spans) in enumerate(clips, start=1):
        frames = spliced_mfcc(samples, config)  # (T, width)
        if spans:
            timed += 1
            phones = frame_phones(spans, frames.shape[0], config.rate_hz)
            ids = [index.setdefault(p, len(index)) for p in phones]
        else:
            ids = [-1] * frames.shape[0]
        column = torch.tensor(ids, dtype=torch.float32)[:, None]  # (T, 1)
        sample.add(torch.cat([frames, column], dim=1))
        yield Progress("unit features", i, total or 0, unit="utt")
    if timed == 0:
        raise ValueError(
            "phonetic units need clips with timed phonemes (an ImaginTalk-Synth manifest); "
            "none of the training clips has them"
        )
    rows = sample.compact()
    spliced, labels = rows[:, :width], rows[:, width].round().long()
    if spliced.shape[0] < config.num_units:
        raise ValueError(f"{spliced.shape[0]} frames are too few to fit {config.num_units} units")
    net = yield from fit_phone_net(
        spliced,
        labels,
        len(index),
        hidden=config.phone_hidden,
        bottleneck=config.phone_bottleneck,
        epochs=config.phone_epochs,
        seed=config.seed,
    )
    accuracy = frame_accuracy(net, spliced, labels)
    features = torch.cat([net.bottleneck(part) for part in spliced.split(65536)])  # (N, B)
    centroids = yield from iter_kmeans(
        features, config.num_units, iters=config.kmeans_iters, seed=config.seed
    )
    phones = tuple(sorted(index, key=index.__getitem__))
    extractor = UnitExtractor(config, centroids, phone_net=net, phones=phones)
    return extractor, {"phone_accuracy_train": accuracy, "timed_clips": float(timed)}


def phone_accuracy(
    units: UnitExtractor, clips: Iterable[tuple[np.ndarray, Sequence[PhoneSpan]]]
) -> float:
    """Frame accuracy of a phonetic codebook's phone net on timed clips (held-out ones tell
    whether it learnt phones or the training voices); NaN without a timed frame it knows."""
    if units.phone_net is None:
        raise ValueError(f"a '{units.config.kind}' codebook has no phone net")
    index = {p: i for i, p in enumerate(units.phones)}
    spliced, labels = [], []
    for samples, spans in clips:
        if not spans:
            continue
        frames = spliced_mfcc(samples, units.config)
        phones = frame_phones(spans, frames.shape[0], units.config.rate_hz)
        spliced.append(frames)
        labels.extend(index.get(p, -1) for p in phones)
    if not spliced:
        return float("nan")
    return frame_accuracy(units.phone_net, torch.cat(spliced), torch.tensor(labels))
