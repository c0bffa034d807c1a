"""Training the RVQ speech codec: log-mel in, codes, log-mel out, on audio alone.

Items are random windows of the training audio (at most `2 * max_frames` mel frames, 50 Hz);
each window's log-mel is reconstructed through the residual quantiser. The loss is the codec's
own weighted sum (mel L1 + codebook + commitment); quantiser dropout inside the codec teaches
the decoder to work from the first levels alone.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from imagintalk_plugin.nn.codec import CODEC_KIND, CodecConfig, MelCodec
from imagintalk_plugin.nn.mel import LogMel
from imagintalk_plugin.training.loops.corpus import item_rng, time_window
from imagintalk_plugin.training.loops.loop import Stage
from imagintalk_plugin.training.loops.settings import TrainConfig

EVAL_CLIPS = 32  # validation clips scored each time (the first ones: the same every time)


def audio_window(
    audio: np.ndarray, frames: int, hop: int, rng: np.random.Generator | None
) -> np.ndarray:
    """At most `frames` mel frames' worth of `audio`, starting on a frame boundary."""
    total = len(audio) // hop
    window = time_window(total, frames, rng)
    return audio[window.start * hop : window.stop * hop]


def mel_batch(
    mel: LogMel, clips: list[np.ndarray], hop: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mels of equal-rate clips padded into a batch: (B, M, T) and padding (B, T)."""
    longest = max(len(c) for c in clips) // hop
    audio = np.zeros((len(clips), longest * hop), np.float32)
    pad = np.ones((len(clips), longest), dtype=bool)
    for i, clip in enumerate(clips):
        n = len(clip) // hop
        audio[i, : n * hop] = clip[: n * hop]
        pad[i, :n] = False
    with torch.no_grad():
        mels = mel.to(device)(torch.from_numpy(audio).to(device))  # (B, M, T)
    return mels, torch.from_numpy(pad).to(device)


def codec_stage(
    config: CodecConfig,
    train: TrainConfig,
    audio: list[np.ndarray],
    valid_audio: list[np.ndarray],
    meta: dict,
) -> Stage:
    """The codec as a `Stage` for `run_stage` (model built with the training seed)."""
    torch.manual_seed(train.seed)
    model = MelCodec(config)
    mel = LogMel(config.mel)
    hop, frames = config.mel.hop, 2 * train.max_frames

    def loss_fn(
        trained: nn.Module, items: list[int], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(trained.parameters()).device
        clips = [audio_window(audio[i], frames, hop, item_rng(train.seed, step, i)) for i in items]
        mels, pad = mel_batch(mel, clips, hop, device)
        out = trained(mels, pad)
        count = (~pad).sum()
        return out.losses["total"] * count, count

    def evaluate(model_: nn.Module) -> dict[str, float]:
        assert isinstance(model_, MelCodec)
        return codec_scores(model_, mel, valid_audio[:EVAL_CLIPS], prefix="valid_")

    return Stage("codec", CODEC_KIND, model, config, train, len(audio), loss_fn, evaluate, meta)


@torch.no_grad()
def codec_scores(
    model: MelCodec, mel: LogMel, clips: list[np.ndarray], prefix: str = ""
) -> dict[str, float]:
    """Log-mel L1 of the round trip with all levels and with half of them, and code usage."""
    if not clips:
        return {}
    model.eval()
    device = next(model.parameters()).device
    hop, levels = model.config.mel.hop, model.config.levels
    used = np.zeros((levels, model.config.codebook_size), bool)
    error = {levels: 0.0, max(1, levels // 2): 0.0}  # summed |error| per number of levels
    values = 0
    for start in range(0, len(clips), 8):
        mels, pad = mel_batch(mel, clips[start : start + 8], hop, device)
        codes = model.encode(mels)  # (B, L, T)
        keep = (~pad)[:, None, :]  # (B, 1, T)
        for level in range(levels):
            used[level, codes[:, level][~pad].cpu().numpy()] = True
        for count in error:
            recon = model.decode(codes[:, :count])  # (B, M, T)
            error[count] += float(((recon - mels).abs() * keep).sum())
        values += int(keep.sum()) * mels.shape[1]
    return {
        f"{prefix}mel_l1": error[levels] / values,
        f"{prefix}mel_l1_half_levels": error[max(1, levels // 2)] / values,
        f"{prefix}codes_used": float(used.mean()),
    }
