"""Masked discrete diffusion over codec tokens: the masking schedule, the loss and the sampler.

Training masks each token with probability `ratio` (drawn per item) and asks the model for the
masked ones (MaskGIT, Chang et al. 2022). Sampling starts from all tokens masked and, over a few
steps, samples every masked token, keeps the surest and re-masks the rest, so that the masked
share follows the cosine schedule down to zero. The backbone is any `logits_fn`, so this file
knows nothing about units, lips or style.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from imagintalk_plugin.core.progress import cancel_point


def mask_ratio(progress: torch.Tensor) -> torch.Tensor:
    """Cosine schedule (MaskGIT): share of tokens masked at progress in [0, 1]; 1 -> 0."""
    return torch.cos(0.5 * math.pi * progress.clamp(0.0, 1.0))


def corrupt(
    codes: torch.Tensor,
    ratio: torch.Tensor,
    noise: torch.Tensor,
    mask_id: int,
    pad: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """codes (B, L, T), ratio (B,), noise (B, L, T) uniform in [0, 1) -> (inputs, masked).

    A token is masked where noise < its item's ratio; padding is never masked and reads 0 in
    the inputs (so any pad value is a valid embedding index). No randomness of its own: the
    caller's noise decides, so a seeded caller gets the same masks on any number of processes.
    """
    if noise.shape != codes.shape or ratio.shape != codes.shape[:1]:
        raise ValueError(
            f"noise must be codes' shape {tuple(codes.shape)} and ratio (B,), got "
            f"{tuple(noise.shape)} and {tuple(ratio.shape)}"
        )
    masked = noise < ratio[:, None, None].to(noise.dtype)  # (B, L, T)
    inputs = codes.masked_fill(masked, mask_id)
    if pad is not None:
        padding = pad[:, None, :].expand_as(masked)  # (B, L, T)
        masked = masked & ~padding
        inputs = inputs.masked_fill(padding, 0)
    return inputs, masked


def masked_token_loss(
    logits: torch.Tensor, targets: torch.Tensor, masked: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (B, L, T, C), targets (B, L, T), masked (B, L, T) -> (summed CE, token count).

    The sum and the count, not the mean, so the training loop can average over all processes'
    tokens (mean = all-reduced sum / all-reduced count) and an item with nothing masked is fine.
    """
    selected = logits[masked].float()  # (N, C)
    loss = torch.nn.functional.cross_entropy(selected, targets[masked], reduction="sum")
    return loss, masked.sum()


@dataclass(frozen=True)
class SamplerSettings:
    """How `sample` decodes; the panel and `dub` may override each field."""

    steps: int = 16  # parallel decoding steps; more is slower and a little better
    temperature: float = 1.0  # of the token sampling; 0 = argmax (no randomness in the tokens)
    guidance: float = 2.0  # classifier-free guidance scale; 1.0 = off (one model call per step)
    seed: int = 0  # same seed, same device -> bit-identical tokens
    # Gumbel noise added to the log-probabilities used to rank which sampled tokens to keep,
    # scaled by choice_temperature * (1 - progress): early steps keep a random-ish spread of
    # tokens (not only the easiest, which all sit in silences and repeated frames), late steps
    # keep the surest. 0 = always keep the surest (MaskGIT's default is 4.5).
    choice_temperature: float = 4.5

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, not {self.steps}")
        if self.temperature < 0 or self.choice_temperature < 0:
            raise ValueError("temperature and choice_temperature must be >= 0")


def _gumbel(
    shape: tuple[int, ...], generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=device)
    return -torch.log(-torch.log(u.clamp_min(torch.finfo(u.dtype).tiny)))


class _Noise:
    """Gumbel noise for the open (masked) positions, from one generator for the whole batch
    (`settings.seed`) or one per item (`seeds`). Per item, an item's draws depend only on its
    own seed and its own open positions, so it samples the same tokens alone or in a batch."""

    def __init__(
        self, seed: int, seeds: Sequence[int] | None, batch: int, device: torch.device
    ) -> None:
        if seeds is not None and len(seeds) != batch:
            raise ValueError(f"{len(seeds)} seeds for a batch of {batch}")
        self.device = device
        self.generators = [
            torch.Generator(device=device).manual_seed(int(s))
            for s in (seeds if seeds is not None else [seed])
        ]

    def draw(self, masked: torch.Tensor, width: int | None) -> torch.Tensor:
        """(N,) or (N, width) noise for the N masked positions of `masked` (B, L, T)."""
        tail = () if width is None else (width,)
        if len(self.generators) == 1:
            return _gumbel((int(masked.sum()), *tail), self.generators[0], self.device)
        counts = masked.flatten(1).sum(dim=1).tolist()  # rows are item-major, as masked_select
        return torch.cat(
            [
                _gumbel((int(n), *tail), g, self.device)
                for n, g in zip(counts, self.generators, strict=True)
            ]
        )


def sample(
    logits_fn: Callable[[torch.Tensor, torch.Tensor, bool], torch.Tensor],
    batch: int,
    levels: int,
    length: int,
    mask_id: int,
    settings: SamplerSettings,
    pad: torch.Tensor | None = None,
    device: torch.device | None = None,
    seeds: Sequence[int] | None = None,
) -> torch.Tensor:
    """Iterative parallel decoding -> codes (B, L, T); padding positions end as 0.

    `logits_fn(codes (B, L, T), ratio (B,), conditional)` returns (B, L, T, C) logits; `ratio`
    is each item's share of masked tokens. With guidance g != 1 the unconditional branch is
    called too and logits = uncond + g * (cond - uncond). `seeds` (one per item) gives every
    item its own random stream, so a clip sampled in a batch gets the tokens it gets alone
    with that seed; without them one stream from `settings.seed` serves the whole batch.
    """
    if device is None:
        device = pad.device if pad is not None else torch.device("cpu")
    valid = torch.ones(batch, length, dtype=torch.bool, device=device)
    if pad is not None:
        valid = ~pad.to(device)
    valid = valid[:, None, :].expand(batch, levels, length)  # (B, L, T)
    total = valid.sum(dim=(1, 2))  # (B,) tokens to decode per item
    masked = valid.clone()
    codes = torch.where(masked, mask_id, 0)  # (B, L, T) long
    noise_source = _Noise(settings.seed, seeds, batch, device)
    positions = torch.arange(levels * length, device=device).expand(batch, -1)  # (B, L*T)
    for step in range(settings.steps):
        ratio = masked.sum(dim=(1, 2)).float() / total.clamp_min(1)  # (B,)
        # Only the masked positions are guided, sampled and ranked (the rest are decided): on
        # average about a third of the tokens, so the per-step cost shrinks with the steps.
        cancel_point()  # a cancel lands within one DiT call, not the whole sampling
        open_logits = logits_fn(codes, ratio, True)[masked].float()  # (N, C) of (B, L, T, C)
        if settings.guidance != 1.0:
            cancel_point()
            uncond = logits_fn(codes, ratio, False)[masked].float()
            open_logits = uncond + settings.guidance * (open_logits - uncond)
        if settings.temperature > 0:  # Gumbel-max: argmax(logits / temp + g)
            noise = noise_source.draw(masked, open_logits.shape[-1])
            sampled = (open_logits + settings.temperature * noise).argmax(dim=-1)  # (N,)
        else:
            sampled = open_logits.argmax(dim=-1)
        codes = codes.masked_scatter(masked, sampled)

        progress = (step + 1) / settings.steps
        if step == settings.steps - 1:
            break  # the last step keeps everything
        left = torch.floor(total * mask_ratio(torch.tensor(progress, device=device))).long()
        left = torch.minimum(left, masked.sum(dim=(1, 2)))  # (B,) tokens to re-mask
        sure = open_logits.log_softmax(dim=-1).gather(-1, sampled[:, None])[:, 0]  # (N,)
        spread = settings.choice_temperature * (1.0 - progress)
        if spread > 0:
            sure = sure + spread * noise_source.draw(masked, None)
        confidence = torch.full(masked.shape, math.inf, device=device)  # decoded, padding stay
        confidence = confidence.masked_scatter(masked, sure)
        order = confidence.flatten(1).argsort(dim=1, stable=True)  # (B, L*T), least sure first
        rank = torch.empty_like(order).scatter_(1, order, positions)
        masked = (rank < left[:, None]).view(batch, levels, length)
        codes = codes.masked_fill(masked, mask_id)
    return codes.masked_fill(~valid, 0)
