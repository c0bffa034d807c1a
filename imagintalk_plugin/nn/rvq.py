"""Residual vector quantiser with factorised, L2-normalised codes (DAC, Kumar et al. 2023).

Each level projects the remaining residual to a small `codebook_dim` space, picks the code with
the highest cosine similarity (L2-normalised lookup: codebook usage stays high without k-means
init), and projects the raw code back. Codebook and commitment losses are the VQ-VAE pair; they
and the usage statistics ignore padding frames. Codes unused for `dead_after` training passes are
restarted from encoder residuals of the current batch (Jukebox / Zeghidour et al.), identically
on every DDP process. Quantizer dropout (SoundStream) trains the decoder on coarse prefixes too.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class VQOutput:
    """What the quantiser gives one batch."""

    quantized: torch.Tensor  # (B, D, T) straight-through: forward = codes, backward = identity
    codes: torch.Tensor  # (B, L, T) int64
    commit_loss: torch.Tensor  # () summed over levels, mean over real frames
    codebook_loss: torch.Tensor  # () summed over levels, mean over real frames
    usage: torch.Tensor  # (L,) perplexity of each level's codes over real frames (detached)


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


class ResidualVQ(nn.Module):
    """`levels` factorised codebooks applied to successive residuals."""

    def __init__(
        self,
        dim: int,
        levels: int,
        codebook_size: int,
        codebook_dim: int = 8,
        quantizer_dropout: float = 0.5,
        dead_after: int = 200,
    ) -> None:
        super().__init__()
        self.dim, self.levels, self.codebook_size = dim, levels, codebook_size
        self.quantizer_dropout, self.dead_after = quantizer_dropout, dead_after
        self.in_proj = nn.ModuleList(nn.Conv1d(dim, codebook_dim, 1) for _ in range(levels))
        self.out_proj = nn.ModuleList(nn.Conv1d(codebook_dim, dim, 1) for _ in range(levels))
        self.codebooks = nn.ModuleList(
            nn.Embedding(codebook_size, codebook_dim) for _ in range(levels)
        )
        # training passes since each code was last chosen for a real frame (any process)
        self.register_buffer("unused_for", torch.zeros(levels, codebook_size, dtype=torch.long))

    def _lookup(self, level: int, z_e: torch.Tensor) -> torch.Tensor:
        """z_e (B, C, T) -> codes (B, T) by cosine similarity."""
        z = nn.functional.normalize(z_e.detach().transpose(1, 2), dim=-1)  # (B, T, C)
        book = nn.functional.normalize(self.codebooks[level].weight.detach(), dim=-1)  # (K, C)
        return (z @ book.t()).argmax(-1)  # (B, T)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> VQOutput:
        """x (B, D, T), pad (B, T) True = padding -> VQOutput."""
        b, _, t = x.shape
        real = torch.ones(b, t, dtype=torch.bool, device=x.device) if pad is None else ~pad
        real_f = real.float()  # (B, T)
        n_real = real_f.sum().clamp(min=1.0)
        active = self._active_levels(b, x.device)  # (B, L) bool
        residual = x
        quantized = torch.zeros_like(x)
        commit = x.new_zeros(())
        codebook = x.new_zeros(())
        codes, usage = [], []
        for level in range(self.levels):
            z_e = self.in_proj[level](residual)  # (B, C, T)
            idx = self._lookup(level, z_e)  # (B, T)
            z_q = self.codebooks[level](idx).transpose(1, 2)  # (B, C, T)
            weight = real_f * active[:, level, None].float()  # (B, T) frames this level serves
            err_commit = (z_e - z_q.detach()).pow(2).mean(1)  # (B, T)
            err_book = (z_q - z_e.detach()).pow(2).mean(1)  # (B, T)
            commit = commit + (err_commit * weight).sum() / n_real
            codebook = codebook + (err_book * weight).sum() / n_real
            z_q = z_e + (z_q - z_e).detach()  # straight-through
            out = self.out_proj[level](z_q)  # (B, D, T)
            quantized = quantized + out * active[:, level, None, None].to(out.dtype)
            residual = residual - out
            used = weight > 0  # (B, T)
            counts = torch.bincount(idx[used], minlength=self.codebook_size).float()  # (K,)
            if self.training:
                counts = self._restart_dead(level, counts, z_e, used)
            usage.append(self._perplexity(counts))
            codes.append(idx)
        return VQOutput(
            quantized=quantized,
            codes=torch.stack(codes, 1),  # (B, L, T)
            commit_loss=commit,
            codebook_loss=codebook,
            usage=torch.stack(usage),  # (L,)
        )

    def _active_levels(self, batch: int, device: torch.device) -> torch.Tensor:
        """(B, L) bool: all levels, or in training a random prefix 1..L for dropped items."""
        levels = torch.full((batch,), self.levels, device=device)
        if self.training and self.quantizer_dropout > 0:
            drop = torch.rand(batch, device=device) < self.quantizer_dropout
            prefix = torch.randint(1, self.levels + 1, (batch,), device=device)
            levels = torch.where(drop, prefix, levels)
        return torch.arange(self.levels, device=device)[None] < levels[:, None]

    @staticmethod
    def _perplexity(counts: torch.Tensor) -> torch.Tensor:
        """exp(entropy) of the code histogram: 1 = one code used, K = all used evenly."""
        p = counts / counts.sum().clamp(min=1.0)
        return torch.exp(-(p * torch.log(p.clamp(min=1e-10))).sum()).detach()

    @torch.no_grad()
    def _restart_dead(
        self, level: int, counts: torch.Tensor, z_e: torch.Tensor, used: torch.Tensor
    ) -> torch.Tensor:
        """Age the codes, restart those unused for `dead_after` passes; returns global counts."""
        counts = counts.clone()
        if _distributed():
            dist.all_reduce(counts)  # a code counts as used if any process used it
        ages = self.unused_for[level]
        ages.copy_(torch.where(counts > 0, torch.zeros_like(ages), ages + 1))
        dead = torch.nonzero(ages >= self.dead_after).flatten()  # same on every process
        if dead.numel() == 0:
            return counts
        pool = z_e.detach().transpose(1, 2)[used]  # (N, C) residuals of real frames
        if pool.shape[0] == 0:  # nothing real here: small random codes instead
            fresh = torch.randn(dead.numel(), z_e.shape[1], device=z_e.device)
        else:
            fresh = pool[torch.randint(0, pool.shape[0], (dead.numel(),), device=z_e.device)]
        fresh = fresh.to(self.codebooks[level].weight.dtype).contiguous()
        if _distributed():
            dist.broadcast(fresh, src=0)  # identical codebooks on every process
        self.codebooks[level].weight.data[dead] = fresh
        ages[dead] = 0
        return counts

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, D, T) -> codes (B, L, T) with every level."""
        residual = x
        codes = []
        for level in range(self.levels):
            idx = self._lookup(level, self.in_proj[level](residual))  # (B, T)
            residual = residual - self._decode_level(level, idx)
            codes.append(idx)
        return torch.stack(codes, 1)

    def _decode_level(self, level: int, idx: torch.Tensor) -> torch.Tensor:
        """idx (B, T) -> (B, D, T) contribution of one level."""
        return self.out_proj[level](self.codebooks[level](idx).transpose(1, 2))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, L', T), L' <= levels -> (B, D, T); fewer levels give a coarser result."""
        if codes.shape[1] > self.levels:
            raise ValueError(f"got {codes.shape[1]} code levels, the quantiser has {self.levels}")
        out = self._decode_level(0, codes[:, 0])
        for level in range(1, codes.shape[1]):
            out = out + self._decode_level(level, codes[:, level])
        return out
