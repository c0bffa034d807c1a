"""The additive padding bias that the Style-DiT and the refiner give their attention."""

from __future__ import annotations

import torch

from imagintalk_plugin.nn.attention_masks import padding_key_bias


def test_padding_key_bias_attends_like_the_boolean_key_mask() -> None:
    pad = torch.tensor([[False, False, True, True], [False] * 4, [True] * 4])
    bias = padding_key_bias(pad, torch.float32)
    assert bias.shape == (3, 1, 1, 4)
    assert bias[0, 0, 0].tolist() == [0.0, 0.0, float("-inf"), float("-inf")]
    assert (bias[1:] == 0).all()  # no padding; all padding attends to all (no NaN rows)
    q, k, v = (
        torch.randn(3, 2, 4, 8, generator=torch.Generator().manual_seed(i)) for i in range(3)
    )
    keep = (~pad | pad.all(dim=1, keepdim=True))[:, None, None, :]
    attention = torch.nn.functional.scaled_dot_product_attention
    torch.testing.assert_close(
        attention(q, k, v, attn_mask=bias), attention(q, k, v, attn_mask=keep), atol=1e-6, rtol=0
    )
