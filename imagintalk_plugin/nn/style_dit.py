"""Style-DiT: a masked discrete diffusion Transformer over residual-VQ codec tokens.

The input is the codec's L levels of tokens per 50 Hz frame, some replaced by a mask id; the
output is, for every level and frame, logits over the C codes (the sampler in
`nn.masked_diffusion` decides which to keep). What to say comes in frame by frame: the speech
unit and the lip features of each frame are added to the token embeddings. How to say it comes
through adaptive LayerNorm (adaLN-Zero, DiT: Peebles & Xie 2023): every block's shift, scale and
gate come from the mask ratio's timestep embedding plus the identity vector, and the per-frame
prosody scales each block's normalised activations by (1 + s_t), so delivery follows the face
over time. All modulation starts at zero, so at initialisation the model ignores the style and
every block is the identity; training opens each path as it helps.

Positions are rotary (RoPE) inside attention, so any length runs and a clip gives the same
result alone or padded in a batch. Dropping the content (units and lips to learned nulls) and
the style (identity to a learned null, prosody to zero) gives classifier-free guidance its
unconditional branch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from imagintalk_plugin.nn.attention_masks import padding_key_bias
from imagintalk_plugin.nn.face_style import StyleConditioning

TIME_FREQUENCIES = 256  # width of the sinusoidal mask-ratio embedding (DiT's t embedder)


@dataclass(frozen=True)
class DiTConfig:
    """The Style-DiT's shape; presets in `nn.acoustic_presets`."""

    levels: int = 8  # residual-VQ levels L of the codec
    codebook_size: int = 1024  # codes C per level; the mask id is C (tables have C + 1 rows)
    num_units: int = 200  # unit vocabulary K (the semantic preset's); null (dropped) unit = K
    lip_dim: int = 192  # lip encoder feature width (the aligner's encoder.dim)
    dim: int = 384
    layers: int = 6
    heads: int = 6  # dim / heads must be even (rotary pairs)
    ff_mult: int = 4
    dropout: float = 0.1
    style_dim: int = 256  # must equal the adapter's style_dim
    rope_base: float = 10000.0  # rotary positions: relative, so no maximum length


def rotary_tables(
    length: int, head_dim: int, base: float, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables (T, head_dim / 2) of rotary positions (Su et al. 2021)."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, device=device).float() / head_dim)
    angles = torch.arange(length, device=device).float()[:, None] * inv_freq  # (T, hd/2)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, H, T, hd) queries or keys by position (half-split pairs, as GPT-NeoX)."""
    x1, x2 = x.chunk(2, dim=-1)  # (B, H, T, hd/2) each
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).type_as(x)


def timestep_embedding(ratio: torch.Tensor, dim: int = TIME_FREQUENCIES) -> torch.Tensor:
    """(B,) mask ratio in [0, 1] -> (B, dim) sinusoids, at DiT's 0..1000 timestep scale."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=ratio.device) / half)
    args = 1000.0 * ratio.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat((args.cos(), args.sin()), dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: (B, T, D) * (1 + scale) + shift, with (B, 1, D) shift and scale."""
    return x * (1 + scale) + shift


class Attention(nn.Module):
    """Multi-head self-attention with rotary positions and an additive padding key bias."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        key_bias: torch.Tensor | None,
    ) -> torch.Tensor:
        """x (B, T, D), key_bias (B, 1, 1, T) float: 0 on keys to attend, -inf on padding."""
        b, t, d = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # (B, H, T, hd) each
        q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        y = nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=key_bias, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, T, hd)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class DiTBlock(nn.Module):
    """Pre-norm Transformer block with adaLN-Zero and per-frame prosody scales."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        d = config.dim
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(d, config.heads, config.dropout)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(d, d * config.ff_mult),
            nn.GELU(approximate="tanh"),
            nn.Dropout(config.dropout),
            nn.Linear(d * config.ff_mult, d),
            nn.Dropout(config.dropout),
        )
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))  # shift/scale/gate x 2
        # per-frame scales, one for attention and one for the MLP; no bias, so zero prosody
        # (none, or dropped) is exactly no modulation
        self.prosody = nn.Linear(config.style_dim, 2 * d, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cond: torch.Tensor,
        prosody: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        key_bias: torch.Tensor | None,
    ) -> torch.Tensor:
        """x (B, T, D), cond (B, D), prosody (B, T, style_dim), key_bias (B, 1, 1, T) ->
        (B, T, D)."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(cond)[:, None].chunk(6, dim=-1)
        frame1, frame2 = self.prosody(prosody).chunk(2, dim=-1)  # (B, T, D) each
        h = modulate(self.norm1(x) * (1 + frame1), shift1, scale1)
        x = x + gate1 * self.attn(h, rope, key_bias)
        h = modulate(self.norm2(x) * (1 + frame2), shift2, scale2)
        return x + gate2 * self.mlp(h)


class StyleDiT(nn.Module):
    """Codec tokens (some masked) + units + lips + style -> logits (B, L, T, C)."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        d = config.dim
        if d % config.heads or (d // config.heads) % 2:
            raise ValueError(f"dim {d} / heads {config.heads} must be an even integer")
        self.config = config
        self.mask_id = config.codebook_size
        self.null_unit = config.num_units
        self.tokens = nn.ModuleList(
            nn.Embedding(config.codebook_size + 1, d) for _ in range(config.levels)
        )  # one table per level, the mask id is each table's last row
        self.units = nn.Embedding(config.num_units + 1, d)
        self.lip_norm = nn.LayerNorm(config.lip_dim)  # lip features come at any scale
        self.lip_proj = nn.Linear(config.lip_dim, d)
        self.lip_null = nn.Parameter(torch.zeros(d))
        self.identity_null = nn.Parameter(torch.zeros(config.style_dim))
        self.time = nn.Sequential(nn.Linear(TIME_FREQUENCIES, d), nn.SiLU(), nn.Linear(d, d))
        self.identity_proj = nn.Linear(config.style_dim, d)
        self.blocks = nn.ModuleList(DiTBlock(config) for _ in range(config.layers))
        self.final_norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.head = nn.Linear(d, config.levels * config.codebook_size)  # one head per level
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
        # the content inputs start at the embeddings' scale, so none drowns the others
        nn.init.normal_(self.lip_proj.weight, std=0.02)
        nn.init.normal_(self.time[0].weight, std=0.02)  # DiT's timestep MLP init
        nn.init.normal_(self.time[2].weight, std=0.02)
        nn.init.normal_(self.head.weight, std=0.02)  # small, not zero: content flows at once
        # adaLN-Zero: every block starts as the identity and ignores the style; the prosody
        # scales start at 1
        for block in self.blocks:
            nn.init.zeros_(block.ada[1].weight)
            nn.init.zeros_(block.ada[1].bias)
            nn.init.zeros_(block.prosody.weight)
        nn.init.zeros_(self.final_ada[1].weight)
        nn.init.zeros_(self.final_ada[1].bias)

    def forward(
        self,
        codes: torch.Tensor,
        units: torch.Tensor,
        lip: torch.Tensor,
        style: StyleConditioning,
        ratio: torch.Tensor,
        pad: torch.Tensor | None = None,
        drop_content: torch.Tensor | None = None,
        drop_style: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """codes (B, L, T) with mask ids, units (B, T), lip (B, T, F), ratio (B,) mask share,
        pad (B, T) True on padding, drop_content / drop_style (B,) bool -> logits (B, L, T, C).
        """
        self._check(codes, units, lip, style, ratio, pad)
        b, _, t = codes.shape
        x = sum(table(codes[:, level]) for level, table in enumerate(self.tokens))  # (B, T, D)
        content = self.units(units) + self.lip_proj(self.lip_norm(lip))  # (B, T, D)
        if drop_content is not None:
            null = self.units.weight[self.null_unit] + self.lip_null  # (D,)
            content = torch.where(drop_content[:, None, None], null, content)
        x = x + content

        identity = style.identity  # (B, S)
        prosody = style.prosody
        if prosody is None:  # zeros, not a skip: every parameter is used on every step
            prosody = identity.new_zeros(b, t, self.config.style_dim)
        if drop_style is not None:
            identity = torch.where(drop_style[:, None], self.identity_null, identity)
            prosody = prosody.masked_fill(drop_style[:, None, None], 0.0)
        cond = self.time(timestep_embedding(ratio).to(x.dtype)) + self.identity_proj(identity)

        rope = rotary_tables(
            t, self.config.dim // self.config.heads, self.config.rope_base, x.device
        )
        key_bias = None if pad is None else padding_key_bias(pad, x.dtype)
        for block in self.blocks:
            x = block(x, cond, prosody, rope, key_bias)
        shift, scale = self.final_ada(cond)[:, None].chunk(2, dim=-1)  # (B, 1, D) each
        x = modulate(self.final_norm(x), shift, scale)
        logits = self.head(x).view(b, t, self.config.levels, self.config.codebook_size)
        return logits.permute(0, 2, 1, 3)  # (B, L, T, C)

    def _check(
        self,
        codes: torch.Tensor,
        units: torch.Tensor,
        lip: torch.Tensor,
        style: StyleConditioning,
        ratio: torch.Tensor,
        pad: torch.Tensor | None,
    ) -> None:
        cfg = self.config
        if codes.ndim != 3 or codes.shape[1] != cfg.levels:
            raise ValueError(f"codes must be (B, {cfg.levels}, T), got {tuple(codes.shape)}")
        b, _, t = codes.shape
        expected = {
            "units": (units, (b, t)),
            "lip": (lip, (b, t, cfg.lip_dim)),
            "style identity": (style.identity, (b, cfg.style_dim)),
            "ratio": (ratio, (b,)),
        }
        if style.prosody is not None:
            expected["style prosody"] = (style.prosody, (b, t, cfg.style_dim))
        if pad is not None:
            expected["pad"] = (pad, (b, t))
        for name, (value, shape) in expected.items():
            if tuple(value.shape) != shape:
                raise ValueError(
                    f"{name} must be {shape} for codes of (B, T) = {(b, t)} and this config, "
                    f"got {tuple(value.shape)}"
                )
