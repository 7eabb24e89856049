"""Attention on the chip: the weight matrices on cores, the activation products digital.

``nn.MultiheadAttention`` reads its packed projection weights inside torch's fused kernel, so no
conversion of its children could reach them. :func:`split_attention` rewrites every one as a
:class:`LinearAttention`: the same math with four plain ``nn.Linear`` projections (q, k, v, out;
the packed ``in_proj_weight`` cut into three) and an :class:`AttentionProducts` module for the
products of two activations (QK^T, softmax, attention x V). ``reram.convert`` calls it first, so
the projections go on cores like any Linear, and the products stay digital: they have no stored
weight to program (writing K and V into cells per sequence would cost a write-verify per token).
The products are priced as digital work (``reram.cost``: MACs at the digital engine's energy,
K and V read from SRAM), and listed once among the digital modules.

Attention written with plain ``nn.Linear`` projections converts as it is; its products are
priced when they run in an :class:`AttentionProducts` module (use it in place of
``F.scaled_dot_product_attention``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class AttentionProducts(nn.Module):
    """softmax(Q K^T / sqrt(d) + mask) V: the digital products of scaled dot-product attention.

    Called as ``products(q, k, v, mask)`` with q (N, heads, L, d), k and v (N, kv heads, S, d;
    kv heads dividing heads: grouped-query attention) and an additive float mask broadcastable
    to (N, heads, L, S) (or None). ``need_weights = True`` keeps the (N, heads, L, S) attention
    weights of the last call in ``last_weights``.
    """

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.dropout = dropout
        self.need_weights = False
        self.last_weights: torch.Tensor | None = None

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(N, heads, L, d) attention outputs (k, v with fewer heads: grouped-query attention)."""
        p = self.dropout if self.training else 0.0
        if k.shape[1] != q.shape[1]:  # each key/value head serves heads / kv_heads query heads
            k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
            v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
        if not self.need_weights:
            self.last_weights = None
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores + mask
        w = scores.softmax(-1)
        self.last_weights = w
        return F.dropout(w, p) @ v

    @staticmethod
    def macs(q: torch.Tensor, k: torch.Tensor) -> float:
        """Multiply-accumulates of one call: Q K^T and attention x V."""
        n_heads_l = q.numel() / q.shape[-1]  # N x heads x L
        return float(2 * n_heads_l * k.shape[-2] * q.shape[-1])


def _additive(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """A torch attention mask (bool: True = may not attend; float: added) as an additive float mask."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    return mask.to(dtype)


class LinearAttention(nn.Module):
    """``nn.MultiheadAttention`` with its projections as ``nn.Linear`` modules (same forward
    signature and results): ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj`` and ``products``.

    Args:
        mha: the module to rewrite (its weights are copied: the packed matrix is cut in three).

    Raises:
        ValueError: for ``add_bias_kv`` / ``add_zero_attn`` (not rewritten; say so before converting).

    """

    def __init__(self, mha: nn.MultiheadAttention):
        super().__init__()
        if not rewritable(mha):
            raise ValueError("nn.MultiheadAttention with add_bias_kv or add_zero_attn is not rewritten for the chip: "
                             "leave it digital with convert(filter_fn=...) or drop those options")  # fmt: skip
        e, kdim, vdim = mha.embed_dim, mha.kdim, mha.vdim
        self.embed_dim, self.num_heads, self.batch_first = e, mha.num_heads, mha.batch_first
        self.head_dim = e // mha.num_heads
        self._qkv_same_embed_dim = mha._qkv_same_embed_dim
        p = next(mha.parameters())
        kw = {"device": p.device, "dtype": p.dtype}
        bias = mha.in_proj_bias is not None
        self.q_proj = nn.Linear(e, e, bias=bias, **kw)  # type: ignore[arg-type]
        self.k_proj = nn.Linear(kdim, e, bias=bias, **kw)  # type: ignore[arg-type]
        self.v_proj = nn.Linear(vdim, e, bias=bias, **kw)  # type: ignore[arg-type]
        self.out_proj = nn.Linear(e, e, bias=mha.out_proj.bias is not None, **kw)  # type: ignore[arg-type]
        with torch.no_grad():
            if mha._qkv_same_embed_dim:
                ws = mha.in_proj_weight.chunk(3)
            else:
                ws = (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight)
            for lin, w in zip((self.q_proj, self.k_proj, self.v_proj), ws, strict=True):
                lin.weight.copy_(w)
            if bias:
                for lin, b in zip((self.q_proj, self.k_proj, self.v_proj), mha.in_proj_bias.chunk(3), strict=True):
                    lin.bias.copy_(b)  # type: ignore[union-attr]
            self.out_proj.weight.copy_(mha.out_proj.weight)
            if mha.out_proj.bias is not None:
                self.out_proj.bias.copy_(mha.out_proj.bias)  # type: ignore[union-attr]
        self.products = AttentionProducts(mha.dropout)
        self.train(mha.training)

    @property
    def in_proj_bias(self) -> torch.Tensor | None:
        """The query projection's bias (``nn.TransformerEncoderLayer`` looks for it)."""
        return self.q_proj.bias

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        n, length, _ = x.shape
        return x.view(n, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """As ``nn.MultiheadAttention.forward``; returns (output, weights or None)."""
        batched = query.dim() == 3
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            key_padding_mask = None if key_padding_mask is None else key_padding_mask.unsqueeze(0)
        if not self.batch_first or not batched:  # (L, N, E) -> (N, L, E)
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        n, length, s = query.shape[0], query.shape[1], key.shape[1]
        q = self._heads(self.q_proj(query))
        k = self._heads(self.k_proj(key))
        v = self._heads(self.v_proj(value))
        dtype = q.dtype
        mask = _additive(attn_mask, dtype)
        if mask is None and is_causal:
            mask = torch.full((length, s), float("-inf"), dtype=dtype, device=q.device).triu(1)
        if mask is not None and mask.dim() == 3:  # (N * heads, L, S)
            mask = mask.view(n, self.num_heads, length, s)
        pad = _additive(key_padding_mask, dtype)
        if pad is not None:
            pad = pad.view(n, 1, 1, s)
            mask = pad if mask is None else mask + pad
        self.products.need_weights = need_weights
        out = self.products(q, k, v, mask)  # (N, heads, L, d)
        out = self.out_proj(out.transpose(1, 2).reshape(n, length, self.embed_dim))
        if not self.batch_first or not batched:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(1)
        weights = self.products.last_weights
        if weights is not None:
            weights = weights.mean(1) if average_attn_weights else weights
            if not batched:
                weights = weights.squeeze(0)
        return out, weights


def rewritable(m: nn.MultiheadAttention) -> bool:
    """True if :class:`LinearAttention` can rewrite ``m`` (no ``add_bias_kv``, no ``add_zero_attn``)."""
    return m.bias_k is None and not m.add_zero_attn


def split_attention(model: nn.Module) -> list[str]:
    """Replace every rewritable ``nn.MultiheadAttention`` in ``model`` (in place) by a
    :class:`LinearAttention`; returns their names. The model itself is not replaced (wrap it).
    The fused fast paths of ``nn.TransformerEncoderLayer`` / ``nn.TransformerEncoder``, which
    would read the packed weights themselves, are switched off where they hold one.
    """
    names = []
    for name, m in list(model.named_modules()):
        if isinstance(m, nn.MultiheadAttention) and name and rewritable(m):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, LinearAttention(m))
            names.append(name)
    for m in model.modules():  # torch's fused encoder paths read the packed weights: never take them
        if isinstance(m, nn.TransformerEncoderLayer) and isinstance(m.self_attn, LinearAttention):
            m.activation_relu_or_gelu = 0
        if isinstance(m, nn.TransformerEncoder) and any(isinstance(x, LinearAttention) for x in m.modules()):
            m.use_nested_tensor = False
    return names
