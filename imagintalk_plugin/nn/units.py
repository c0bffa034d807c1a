"""50 Hz discrete speech units: frame features (MFCC, a local HuBERT layer, or a phone net's
bottleneck over MFCCs) + a k-means codebook.

This is HuBERT's iteration-1 recipe: k-means over MFCCs gives pseudo-phonetic units with no
download; with `kind="hubert"` the features are a hidden layer of a HuBERT checkpoint the user
already has on disk (iteration 2+). Frame t is centred at sample t * hop + hop / 2 and an
utterance of N samples always gives exactly N // hop units, so units line up with video frames
(two units per 25 fps frame). The codebook is saved with `checkpoint.save_model` and its id is a
hash of the centroids, so tokens from another fit are never mistaken for these.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from imagintalk_plugin.core.errors import ModelLoadError
from imagintalk_plugin.core.signals import TokenSequence
from imagintalk_plugin.nn.checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_model, save_model
from imagintalk_plugin.nn.kmeans import assign
from imagintalk_plugin.nn.phone_net import PhoneNet, splice

MODEL_KIND = "imagintalk/units"
CODEBOOK_VERSION = "1"
KINDS = ("mfcc", "hubert", "phonetic")
PHONE_NET_PREFIX = "phone_net."
LOG_FLOOR = 1e-10  # power floor before the log: silence gives a finite constant, not -inf
STD_FLOOR = 1e-3  # CMVN: a near-constant coefficient (silence) stays ~0, not rounding noise
DELTA_WIDTH = 2  # regression over +-2 frames, the HTK/Kaldi standard


@dataclass(frozen=True)
class UnitConfig:
    """How speech becomes unit ids: features, codebook size and the k-means fit (JSON-friendly)."""

    kind: str = "mfcc"  # "mfcc": nothing to download (HuBERT iter 1); "hubert": a local model;
    # "phonetic": a phone classifier's bottleneck over MFCCs, learnt from timed phones (phone_net)
    num_units: int = 200  # codebook size K; 100-500 is usual for 50 Hz speech units
    sample_rate: int = 16000  # what HuBERT and speech corpora use; callers resample to it
    hop: int = 320  # 20 ms = 50 Hz, HuBERT's frame rate: two units per 25 fps video frame
    win: int = 400  # 25 ms analysis window, the standard speech frame (and HuBERT's field)
    n_fft: int = 512  # next power of two above win; the frame is zero-padded to it
    n_mels: int = 40  # HTK mel bands over 0 - 8 kHz, enough for 13 cepstra
    n_mfcc: int = 13  # the classic cepstra count: vocal-tract shape, not pitch harmonics
    use_deltas: bool = True  # + delta + delta-delta = 39-d: units then see transitions too
    hubert_layer: int = 6  # hidden_states index; mid layers of HuBERT base are most phonetic
    kmeans_iters: int = 30  # Lloyd iterations; codebooks change little after ~20
    max_fit_frames: int = 200_000  # ~67 min of speech; a seeded subsample keeps the fit fast
    seed: int = 0  # subsample + k-means++ seed: the same data and seed give the same codebook
    phone_context: int = 5  # phonetic: +-5 frames (220 ms) around each frame go in
    phone_hidden: int = 512  # phonetic: width of the classifier's two hidden layers
    phone_bottleneck: int = 64  # phonetic: the clustered feature's size
    phone_epochs: int = 15  # phonetic: passes over the labelled frames (seconds each)

    ADDED_KEYS: ClassVar[tuple[str, ...]] = (
        "phone_context",
        "phone_hidden",
        "phone_bottleneck",
        "phone_epochs",
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            want = {"kind": str, "use_deltas": bool}.get(f.name, int)
            if not isinstance(value, want) or (want is int and isinstance(value, bool)):
                raise ValueError(f"unit config '{f.name}' must be {want.__name__}, got {value!r}")
        if self.kind not in KINDS:
            raise ValueError(f"unit config kind must be one of {KINDS}, got '{self.kind}'")
        positive = ("num_units", "sample_rate", "hop", "win", "n_fft", "n_mels", "n_mfcc")
        learnt = ("phone_hidden", "phone_bottleneck", "phone_epochs")
        for name in (*positive, "kmeans_iters", "max_fit_frames", *learnt):
            if getattr(self, name) < 1:
                raise ValueError(f"unit config '{name}' must be >= 1, got {getattr(self, name)}")
        if not self.hop <= self.win <= self.n_fft:
            raise ValueError(f"unit config needs hop <= win <= n_fft, got {self}")
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"unit config needs n_mfcc <= n_mels, got {self.n_mfcc}")
        if self.max_fit_frames < self.num_units:
            raise ValueError("unit config needs max_fit_frames >= num_units")
        if self.phone_context < 0:
            raise ValueError(f"unit config 'phone_context' must be >= 0, got {self.phone_context}")

    @property
    def rate_hz(self) -> float:
        """Units per second (50 with the defaults)."""
        return self.sample_rate / self.hop


def spliced_dim(config: UnitConfig) -> int:
    """Width of the phone net's input: the MFCC frame with its +-phone_context neighbours."""
    return mfcc_dim(config) * (2 * config.phone_context + 1)


def spliced_mfcc(samples: np.ndarray, config: UnitConfig) -> torch.Tensor:
    """The phone net's input: each CMVN MFCC frame with its +-phone_context neighbours,
    (N // hop, spliced_dim)."""
    return splice(mfcc_features(samples, config), config.phone_context)


def mfcc_dim(config: UnitConfig) -> int:
    """Width F of `mfcc_features`: n_mfcc, or 3 * n_mfcc with deltas."""
    return config.n_mfcc * (3 if config.use_deltas else 1)


def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(config: UnitConfig) -> torch.Tensor:
    """HTK triangular mel filters from 0 Hz to Nyquist, peak 1: (n_fft // 2 + 1, n_mels)."""
    nyquist = torch.tensor(config.sample_rate / 2.0, dtype=torch.float64)
    freqs = torch.linspace(0.0, float(nyquist), config.n_fft // 2 + 1, dtype=torch.float64)
    mels = torch.linspace(0.0, float(_hz_to_mel(nyquist)), config.n_mels + 2, dtype=torch.float64)
    edges = _mel_to_hz(mels)  # (M + 2,)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]  # (M,) each
    rising = (freqs[:, None] - lower) / (centre - lower)  # (n_freq, M)
    falling = (upper - freqs[:, None]) / (upper - centre)  # (n_freq, M)
    return torch.minimum(rising, falling).clamp_min(0.0).to(torch.float32)


def dct_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """Orthonormal DCT-II as a matrix: (n_in, n_out), applied as `x @ dct`."""
    n = torch.arange(n_in, dtype=torch.float64)[:, None]  # (n_in, 1)
    k = torch.arange(n_out, dtype=torch.float64)[None, :]  # (1, n_out)
    dct = torch.cos(math.pi / n_in * (n + 0.5) * k) * math.sqrt(2.0 / n_in)  # (n_in, n_out)
    dct[:, 0] /= math.sqrt(2.0)
    return dct.to(torch.float32)


def deltas(x: torch.Tensor, width: int = DELTA_WIDTH) -> torch.Tensor:
    """Regression deltas over +-width frames, edges repeated: (T, F) -> (T, F)."""
    t = x.shape[0]
    padded = torch.cat([x[:1].expand(width, -1), x, x[-1:].expand(width, -1)])  # (T + 2W, F)
    num = sum(
        n * (padded[width + n : width + n + t] - padded[width - n : width - n + t])
        for n in range(1, width + 1)
    )
    return num / (2.0 * sum(n * n for n in range(1, width + 1)))  # (T, F)


def mfcc_features(samples: np.ndarray, config: UnitConfig) -> torch.Tensor:
    """CMVN-normalised MFCC (+ deltas) frames, (N // hop, F) float32.

    Per-utterance mean/variance normalisation removes the channel and much of the speaker, so
    units follow phonetic content.
    """
    x = torch.from_numpy(_as_mono(samples))  # (N,)
    t = x.shape[0] // config.hop
    if t == 0:
        return torch.zeros(0, mfcc_dim(config))
    left = (config.win - config.hop) // 2  # frame t covers [t*hop + hop/2 - win/2, + win)
    right = config.win - config.hop - left
    mode = "reflect" if x.shape[0] > max(left, right) else "constant"
    x = torch.nn.functional.pad(x[None, None], (left, right), mode=mode)[0, 0]  # (N + win - hop,)
    frames = x.unfold(0, config.win, config.hop)[:t]  # (T, win)
    window = torch.hann_window(config.win, periodic=False)  # (win,)
    spectrum = torch.fft.rfft(frames * window, n=config.n_fft)  # (T, n_fft // 2 + 1)
    power = spectrum.real**2 + spectrum.imag**2  # (T, n_freq)
    log_mel = torch.log((power @ mel_filterbank(config)).clamp_min(LOG_FLOOR))  # (T, M)
    # float64 from here: rounding noise on constant frames must stay far below STD_FLOOR
    feats = log_mel.double() @ dct_matrix(config.n_mels, config.n_mfcc).double()  # (T, C)
    if config.use_deltas:
        d1 = deltas(feats)  # (T, C)
        feats = torch.cat([feats, d1, deltas(d1)], dim=1)  # (T, 3C)
    mean = feats.mean(0, keepdim=True)  # (1, F)
    std = feats.std(0, unbiased=False, keepdim=True).clamp_min(STD_FLOOR)  # (1, F)
    return ((feats - mean) / std).to(torch.float32).contiguous()  # (T, F)


def _as_mono(samples: np.ndarray) -> np.ndarray:
    """Samples as a contiguous float32 (N,) array; anything else is a ValueError."""
    array = np.ascontiguousarray(samples, dtype=np.float32)
    if array.ndim != 1:
        raise ValueError(f"unit features need mono samples (N,), got shape {array.shape}")
    return array


class HubertFeatures:
    """One hidden layer of a HuBERT checkpoint in a local folder, as (N // hop, D) frames.

    Nothing is downloaded: the folder must hold a `transformers` HubertModel
    (config.json + weights), e.g. one saved with `save_pretrained`.
    """

    def __init__(self, folder: Path, layer: int, hop: int = 320) -> None:
        from transformers import HubertModel

        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ModelLoadError(self.folder, "no such folder (give a local HuBERT checkpoint)")
        try:
            model = HubertModel.from_pretrained(str(self.folder), local_files_only=True)
        except Exception as error:  # transformers raises OSError, ValueError, safetensors errors
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ModelLoadError(self.folder, f"not a HuBERT checkpoint: {reason}") from None
        self.model = model.to(torch.float32).eval()
        cfg = self.model.config
        if not 0 <= layer <= cfg.num_hidden_layers:
            raise ModelLoadError(
                self.folder, f"has {cfg.num_hidden_layers} layers, layer {layer} was asked for"
            )
        stride = math.prod(cfg.conv_stride)
        if stride != hop:
            raise ModelLoadError(self.folder, f"frame hop is {stride} samples, units need {hop}")
        self.layer = layer
        self.hop = hop
        self.dim = int(cfg.hidden_size)
        # receptive field of the conv front end (400 samples for HuBERT base)
        self.field = 1 + sum(
            (k - 1) * math.prod(cfg.conv_stride[:i]) for i, k in enumerate(cfg.conv_kernel)
        )
        self.normalize = _wants_normalized_input(self.folder)

    def __call__(self, samples: np.ndarray) -> torch.Tensor:
        """Hidden states of `layer` centred like the MFCC frames: (N // hop, D) float32."""
        x = torch.from_numpy(_as_mono(samples))  # (N,)
        t = x.shape[0] // self.hop
        if t == 0:
            return torch.zeros(0, self.dim)
        if self.normalize:
            x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
        left = max(0, (self.field - self.hop) // 2)
        right = max(self.field - self.hop - left, self.field - left - x.shape[0])
        x = torch.nn.functional.pad(x, (left, right))  # (N + field - hop,)
        with torch.inference_mode():
            out = self.model(x[None], output_hidden_states=True)
        hidden = out.hidden_states[self.layer][0].float()  # (T', D)
        if hidden.shape[0] < t:  # repeat the last frame; T' == T for a standard front end
            hidden = torch.cat([hidden, hidden[-1:].expand(t - hidden.shape[0], -1)])
        return hidden[:t].clone()  # (T, D)


def _wants_normalized_input(folder: Path) -> bool:
    """Whether the checkpoint's feature extractor zero-means the waveform (HuBERT large does)."""
    path = folder / "preprocessor_config.json"
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("do_normalize", False))
    except (OSError, ValueError, AttributeError):
        return False


class UnitExtractor:
    """Waveform -> 50 Hz unit ids: frame features, then the nearest of K centroids."""

    def __init__(
        self,
        config: UnitConfig,
        centroids: torch.Tensor,
        hubert: HubertFeatures | None = None,
        phone_net: PhoneNet | None = None,
        phones: tuple[str, ...] = (),
    ) -> None:
        if (config.kind == "hubert") != (hubert is not None):
            need = "needs a" if hubert is None else "takes no"
            raise ValueError(f"a '{config.kind}' unit extractor {need} HuBERT model")
        if (config.kind == "phonetic") != (phone_net is not None):
            need = "needs a" if phone_net is None else "takes no"
            raise ValueError(f"a '{config.kind}' unit extractor {need} phone net")
        dim = _feature_dim(config, hubert)
        if tuple(centroids.shape) != (config.num_units, dim):
            raise ValueError(
                f"centroids must be ({config.num_units}, {dim}), got {tuple(centroids.shape)}"
            )
        self.config = config
        self.centroids = centroids.detach().to("cpu", torch.float32).contiguous()  # (K, F)
        self.hubert = hubert
        self.phone_net = phone_net.eval() if phone_net is not None else None
        self.phones = tuple(phones)  # the phone net's classes, in its output order

    @property
    def codebook_id(self) -> str:
        """ "<kind>-k<K>-<12 hex of sha256 of the centroids>": another fit, another codebook."""
        digest = hashlib.sha256(self.centroids.numpy().tobytes()).hexdigest()[:12]
        return f"{self.config.kind}-k{self.config.num_units}-{digest}"

    @property
    def codebook_version(self) -> str:
        """Version of the unit recipe (features + assignment)."""
        return CODEBOOK_VERSION

    def features(self, samples: np.ndarray) -> torch.Tensor:
        """Frame features of mono samples at config.sample_rate: (N // hop, F)."""
        if self.hubert is not None:
            return self.hubert(samples)
        if self.phone_net is not None:
            return self.phone_net.bottleneck(spliced_mfcc(samples, self.config))
        return mfcc_features(samples, self.config)

    def unit_ids(self, samples: np.ndarray) -> np.ndarray:
        """Nearest-centroid unit of every frame: (N // hop,) int64."""
        ids, _ = assign(self.features(samples), self.centroids)  # (T,)
        return ids.numpy().astype(np.int64)

    def units(self, samples: np.ndarray, sample_rate: int) -> TokenSequence:
        """The unit ids as a TokenSequence at 50 Hz tagged with this codebook."""
        if sample_rate != self.config.sample_rate:
            raise ValueError(
                f"units need {self.config.sample_rate} Hz audio, got {sample_rate} Hz "
                "(resample before extracting units)"
            )
        return TokenSequence(
            tokens=self.unit_ids(samples),
            rate_hz=self.config.rate_hz,
            codebook_id=self.codebook_id,
            codebook_version=self.codebook_version,
        )

    def save(self, folder: Path, meta: Mapping[str, Any] | None = None) -> None:
        """Write the codebook folder (centroids + config + codebook identity)."""
        info = dict(meta or {})
        info.update(codebook_id=self.codebook_id, codebook_version=self.codebook_version)
        if self.hubert is not None:
            info["hubert_dir"] = str(self.hubert.folder.resolve())
        weights = {"centroids": self.centroids}
        if self.phone_net is not None:
            info["phones"] = list(self.phones)
            state = self.phone_net.state_dict()
            weights.update({PHONE_NET_PREFIX + k: v.float() for k, v in state.items()})
        save_model(Path(folder), MODEL_KIND, self.config, weights, info)

    @classmethod
    def load(cls, folder: Path) -> UnitExtractor:
        """A saved codebook, checked strictly; a HuBERT codebook also reloads its model folder."""
        folder = Path(folder)
        try:
            config, weights, meta = load_model(folder, MODEL_KIND, UnitConfig)
        except (TypeError, ValueError) as error:  # UnitConfig's own checks
            raise ModelLoadError(folder / CONFIG_FILE, str(error)) from None
        phone_net, phones = _load_phone_net(folder, config, weights, meta)
        if set(weights) != {"centroids"}:
            raise ModelLoadError(
                folder / WEIGHTS_FILE, f"expected only 'centroids', got {sorted(weights)}"
            )
        hubert = None
        if config.kind == "hubert":
            hubert_dir = meta.get("hubert_dir")
            if not isinstance(hubert_dir, str):
                raise ModelLoadError(folder / CONFIG_FILE, "meta lacks the 'hubert_dir' folder")
            hubert = HubertFeatures(Path(hubert_dir), config.hubert_layer, config.hop)
        centroids = weights["centroids"]
        dim = _feature_dim(config, hubert)
        if centroids.dtype != torch.float32 or tuple(centroids.shape) != (config.num_units, dim):
            raise ModelLoadError(
                folder / WEIGHTS_FILE,
                f"centroids are {tuple(centroids.shape)} {centroids.dtype}, the config wants "
                f"({config.num_units}, {dim}) float32",
            )
        extractor = cls(config, centroids, hubert, phone_net, phones)
        if meta.get("codebook_id", extractor.codebook_id) != extractor.codebook_id:
            raise ModelLoadError(folder, "centroids do not match the stored codebook_id")
        return extractor


def _feature_dim(config: UnitConfig, hubert: HubertFeatures | None) -> int:
    """Width of the frames the centroids live in."""
    if hubert is not None:
        return hubert.dim
    return config.phone_bottleneck if config.kind == "phonetic" else mfcc_dim(config)


def _load_phone_net(
    folder: Path, config: UnitConfig, weights: dict[str, torch.Tensor], meta: Mapping[str, Any]
) -> tuple[PhoneNet | None, tuple[str, ...]]:
    """A phonetic codebook's phone net, popped from `weights`; (None, ()) for other kinds."""
    if config.kind != "phonetic":
        return None, ()
    phones = meta.get("phones")
    if not isinstance(phones, list) or not phones or not all(isinstance(p, str) for p in phones):
        raise ModelLoadError(folder / CONFIG_FILE, "meta lacks the phone net's 'phones' list")
    state = {
        k[len(PHONE_NET_PREFIX) :]: weights.pop(k).float()
        for k in [k for k in weights if k.startswith(PHONE_NET_PREFIX)]
    }
    net = PhoneNet(spliced_dim(config), config.phone_hidden, config.phone_bottleneck, len(phones))
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[0]
        raise ModelLoadError(folder / WEIGHTS_FILE, f"phone net does not load: {reason}") from None
    return net.eval(), tuple(phones)
