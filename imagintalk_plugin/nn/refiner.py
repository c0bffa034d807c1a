"""BERT refiner: a masked unit language model that re-predicts the tokens the detector flags.

`transformers.BertForMaskedLM` built from a config (never downloaded) over the unit vocabulary
plus [PAD] and [MASK]. It is pretrained as a masked language model on units of audio alone, then
fine-tuned with the lip posteriors (the aligner's per-step unit distribution, computed from the
video alone) added to its input embeddings through a zero-initialised projection, so
fine-tuning starts from the pretrained language model exactly. Its output is trained as a
correction of those posteriors (the loss sees lip log-posterior + refiner logits), so at the
start of fine-tuning the refiner is already the fusion of lips and language model, and it can
only learn what context adds to what the lips say. The posteriors live in the unit
space every aligner shares, so the fold aligners that make honest training inputs and the final
aligner used at inference are interchangeable.

Inference re-predicts the flagged tokens in one of two ways (`MASKINGS`):
- "all": every flagged token masked at once; with several passes it keeps the surest predictions
  and re-masks the least sure (mask-predict, Ghazvininejad et al. 2019);
- "runs": each run of equal aligner tokens that holds a flagged step is masked in one of
  `RUN_GROUPS` copies of the window, copy g masking flagged runs g, g + 8, ..., so the runs
  around each masked run stay as context; one round (passes apply to "all" only), and only the
  flagged steps take the new units. On a new voice the detector flags about half of the
  steps, so masking them all at once leaves the language model little context (measured on
  the demo corpus: README, semantic branch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from imagintalk_plugin.nn.attention_masks import padding_key_bias

REFINER_KIND = "imagintalk/refiner"  # checkpoint kind of this model family

Masking = Literal["all", "runs"]
MASKINGS: tuple[Masking, ...] = ("all", "runs")
RUN_GROUPS = 8  # "runs" masking: copy g of a window masks flagged runs g, g + 8, g + 16, ...


@dataclass(frozen=True)
class RefinerConfig:
    """The refiner's shape; presets in `nn.presets`."""

    num_units: int = 200  # unit vocabulary; [PAD] = K, [MASK] = K + 1
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    intermediate: int = 1024
    max_positions: int = 512  # 50 Hz steps (10.24 s); longer clips are refined in windows
    dropout: float = 0.1


class UnitRefiner(nn.Module):
    """BertForMaskedLM over units, with optional lip posteriors added to the embeddings."""

    def __init__(self, config: RefinerConfig) -> None:
        super().__init__()
        from transformers import BertConfig, BertForMaskedLM

        self.config = config
        self.pad_id = config.num_units
        self.mask_id = config.num_units + 1
        bert_config = BertConfig(
            vocab_size=config.num_units + 2,
            hidden_size=config.hidden,
            num_hidden_layers=config.layers,
            num_attention_heads=config.heads,
            intermediate_size=config.intermediate,
            max_position_embeddings=config.max_positions,
            type_vocab_size=1,
            pad_token_id=self.pad_id,
            hidden_dropout_prob=config.dropout,
            attention_probs_dropout_prob=config.dropout,
        )
        self.bert = BertForMaskedLM(bert_config)
        self.lip_proj = nn.Linear(config.num_units, config.hidden)
        nn.init.zeros_(self.lip_proj.weight)  # fine-tuning starts from the pure language model
        nn.init.zeros_(self.lip_proj.bias)

    def forward(
        self,
        input_ids: torch.Tensor,
        lip_log_probs: torch.Tensor | None = None,
        pad: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """input_ids (B, T), lip_log_probs (B, T, K) or None, pad (B, T) -> logits (B, T, K)."""
        embeds = self.bert.bert.embeddings.word_embeddings(input_ids)  # (B, T, H)
        if lip_log_probs is not None:
            embeds = embeds + self.lip_proj(lip_log_probs)
        # a ready 4D additive mask, which transformers passes on as is (`attention_masks`)
        attention = None if pad is None else padding_key_bias(pad, embeds.dtype)
        out = self.bert(inputs_embeds=embeds, attention_mask=attention)
        return out.logits[..., : self.config.num_units]  # specials are never predicted

    @torch.no_grad()
    def refine(
        self,
        tokens: np.ndarray,
        flagged: np.ndarray,
        lip_log_probs: np.ndarray | None = None,
        passes: int = 1,
        lm_weight: float | None = None,
        masking: Masking = "all",
    ) -> np.ndarray:
        """Re-predict the `flagged` (T,) tokens of one clip with this module; see
        `refine_tokens`."""
        self.eval()
        device = next(self.parameters()).device
        return refine_tokens(
            self, self.config, device, tokens, flagged, lip_log_probs, passes, lm_weight, masking
        )


RefinerForward = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


@torch.no_grad()
def refine_tokens(
    forward: RefinerForward,
    config: RefinerConfig,
    device: torch.device,
    tokens: np.ndarray,
    flagged: np.ndarray,
    lip_log_probs: np.ndarray | None = None,
    passes: int = 1,
    lm_weight: float | None = None,
    masking: Masking = "all",
) -> np.ndarray:
    """Re-predict the `flagged` (T,) tokens of one clip; returns the refined (T,) tokens.

    `forward(input_ids (1, T), lip_log_probs (1, T, K) or None) -> logits (1, T, K)` is the
    refiner's forward pass on any backend. With lip posteriors, a flagged step's new unit
    maximises the aligner's log-posterior plus `lm_weight` (default 1, the weight fine-tuning
    used) times the refiner's output: the refiner is fine-tuned as a correction of the lip
    posterior, a product of experts whose weight the validation split calibrates. Without lip
    posteriors the language model alone decides. `masking` is one of `MASKINGS` (module doc).
    Clips longer than the refiner's positions are refined window by window.
    """
    if masking not in MASKINGS:
        raise ValueError(f"unknown masking '{masking}' (one of {MASKINGS})")
    flagged = flagged.astype(bool)
    if masking == "runs":
        runs = run_log_probs(forward, config, device, tokens, lip_log_probs, flagged)
        return fuse_runs(tokens, flagged, lip_log_probs, runs, lm_weight)
    refined = tokens.astype(np.int64).copy()
    window = config.max_positions
    for start in range(0, len(tokens), window):
        stop = min(len(tokens), start + window)
        part_lips = None if lip_log_probs is None else lip_log_probs[start:stop]
        refined[start:stop] = _refine_window(
            forward,
            config.num_units + 1,
            device,
            refined[start:stop],
            flagged[start:stop],
            part_lips,
            passes,
            lm_weight,
        )
    return refined


def _refine_window(
    forward: RefinerForward,
    mask_id: int,
    device: torch.device,
    tokens: np.ndarray,
    flagged: np.ndarray,
    lips: np.ndarray | None,
    passes: int,
    lm_weight: float | None,
) -> np.ndarray:
    if not flagged.any():
        return tokens
    ids = torch.from_numpy(tokens)[None].to(device)  # (1, T)
    lip = None if lips is None else torch.from_numpy(lips.astype(np.float32))[None].to(device)
    target = torch.from_numpy(flagged).to(device)  # (T,)
    masked = target.clone()
    count = int(target.sum())
    for step in range(max(1, passes)):
        ids[0, masked] = mask_id
        log_probs = forward(ids, lip)[0].float().log_softmax(-1)  # (T, K)
        if lip is not None:  # trained as a correction of the lip posterior (residual)
            weight = 1.0 if lm_weight is None else lm_weight
            log_probs = (lip[0] + weight * log_probs).log_softmax(-1)
        probs = log_probs.exp()
        best_p, best = probs.max(-1)
        ids[0, masked] = best[masked]
        remaining = count * (passes - 1 - step) // max(1, passes)
        if remaining <= 0:
            break
        surety = torch.where(target, best_p, torch.full_like(best_p, 2.0))
        masked = torch.zeros_like(target)
        masked[surety.argsort()[:remaining]] = True  # least sure of the flagged ones
    return ids[0].cpu().numpy()


def flagged_runs(tokens: np.ndarray, flagged: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of equal tokens that holds at least one flagged step."""
    edges = np.flatnonzero(np.diff(tokens)) + 1
    starts, stops = np.r_[0, edges], np.r_[edges, len(tokens)]
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True) if flagged[a:b].any()]


@torch.no_grad()
def run_log_probs(
    forward: RefinerForward,
    config: RefinerConfig,
    device: torch.device,
    tokens: np.ndarray,
    lip_log_probs: np.ndarray | None,
    flagged: np.ndarray,
) -> np.ndarray:
    """(T, K) float32: at the steps of each flagged run of equal tokens, the refiner's
    log-probabilities from a copy of its window where that run is masked together with only
    every `RUN_GROUPS`-th other flagged run, so the runs around it stay as context; zero
    elsewhere. One forward pass of at most `RUN_GROUPS` copies per window."""
    out = np.zeros((len(tokens), config.num_units), np.float32)
    mask_id = config.num_units + 1
    for start in range(0, len(tokens), config.max_positions):
        stop = min(len(tokens), start + config.max_positions)
        part = tokens[start:stop].astype(np.int64)
        spans = flagged_runs(part, flagged[start:stop])
        if not spans:
            continue
        groups = min(RUN_GROUPS, len(spans))
        ids = torch.from_numpy(part)[None].repeat(groups, 1)  # (G, T)
        for index, (a, b) in enumerate(spans):
            ids[index % groups, a:b] = mask_id
        lip = None
        if lip_log_probs is not None:
            lip = torch.from_numpy(lip_log_probs[start:stop].astype(np.float32))[None]
            lip = lip.expand(groups, -1, -1).to(device)
        log_probs = forward(ids.to(device), lip).float().log_softmax(-1).cpu().numpy()
        for index, (a, b) in enumerate(spans):
            out[start + a : start + b] = log_probs[index % groups, a:b]
    return out


def fuse_runs(
    tokens: np.ndarray,
    flagged: np.ndarray,
    lip_log_probs: np.ndarray | None,
    runs: np.ndarray,
    lm_weight: float | None = None,
) -> np.ndarray:
    """The "runs" masking's result from `run_log_probs`: each flagged step takes the unit that
    maximises lip log-posterior + `lm_weight` (default 1) x the refiner's (the refiner alone
    without lips); every other step keeps its token."""
    weight = 1.0 if lm_weight is None else lm_weight
    scores = runs if lip_log_probs is None else lip_log_probs + weight * runs
    return np.where(flagged, scores.argmax(-1), tokens).astype(np.int64)
