"""Attention on the chip: every form's projections on cores, the products digital and priced;
under the ideal preset a converted transformer reproduces float to 1e-4.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reram
from reram.nn import AttentionProducts, LinearAttention


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("packed", [True, False])
def test_linear_attention_is_multihead_attention_with_every_mask(batch_first: bool, packed: bool) -> None:
    torch.manual_seed(0)
    kv = {} if packed else {"kdim": 6, "vdim": 5}
    mha = nn.MultiheadAttention(8, 2, batch_first=batch_first, **kv).eval()
    lin = LinearAttention(mha)
    q = torch.randn(3, 7, 8)
    k, v = torch.randn(3, 4, kv.get("kdim", 8)), torch.randn(3, 4, kv.get("vdim", 8))
    if not batch_first:
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
    pad = torch.tensor([[False] * 4, [False, False, True, True], [True, False, False, False]])
    masks = [{}, {"key_padding_mask": pad}, {"attn_mask": torch.rand(7, 4) > 0.7},
             {"attn_mask": torch.randn(7, 4), "key_padding_mask": pad}]  # fmt: skip
    for extra in masks:
        for need in (True, False):
            a, wa = mha(q, k, v, need_weights=need, **extra)
            b, wb = lin(q, k, v, need_weights=need, **extra)
            assert torch.allclose(a, b, atol=1e-6, equal_nan=True)
            assert (wa is None) == (wb is None) and (wa is None or torch.allclose(wa, wb, atol=1e-6))


class PlainAttention(nn.Module):
    """Attention written with nn.Linear projections (a GPT block's), products in AttentionProducts."""

    def __init__(self, e: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.qkv, self.proj = nn.Linear(e, 3 * e), nn.Linear(e, e)
        self.mlp = nn.Sequential(nn.Linear(e, 4 * e), nn.GELU(), nn.Linear(4 * e, e))
        self.norm1, self.norm2 = nn.LayerNorm(e), nn.LayerNorm(e)
        self.products = AttentionProducts()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, e = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(n, length, 3, self.heads, e // self.heads).permute(2, 0, 3, 1, 4)
        causal = torch.full((length, length), -math.inf).triu(1)
        x = x + self.proj(self.products(q, k, v, causal).transpose(1, 2).reshape(n, length, e))
        return x + self.mlp(self.norm2(x))


def _forms() -> dict[str, nn.Module]:
    torch.manual_seed(1)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True), 2,
                                enable_nested_tensor=False)  # fmt: skip
    return {
        "encoder_layer": nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=True),
        "encoder": enc,
        "decoder_layer": nn.TransformerDecoderLayer(16, 2, 32, dropout=0.0, batch_first=True),
        "plain": PlainAttention(),
    }


class _MHA(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, attn_mask=nn.Transformer.generate_square_subsequent_mask(x.shape[1]))[0]


@pytest.mark.parametrize("form", ["multihead", "encoder_layer", "encoder", "decoder_layer", "plain"])
def test_every_attention_form_converts_and_matches_float_under_the_ideal_preset(form: str) -> None:
    model = _MHA() if form == "multihead" else _forms()[form]
    model.eval()
    x = torch.randn(3, 6, 16)
    args = (x, torch.randn(3, 5, 16)) if form == "decoder_layer" else (x,)
    chip = reram.convert(model, "ideal")
    layers = reram.analog_layers(chip)
    matrices = [m for m in model.modules() if isinstance(m, nn.Linear | nn.MultiheadAttention)]
    assert layers and not [r for r in reram.digital_modules(chip) if r.weights]  # every matrix on cores
    assert {r.type for r in reram.digital_modules(chip)} == {"AttentionProducts"}
    assert len(layers) >= len(matrices)
    with torch.no_grad():
        ref, out = model(*args), chip(*args)
    assert float((out - ref).abs().max()) < 1e-4
    assert all(m.events.total().vectors > 0 for _, m in layers)  # each one read: no fused path around them


def test_noise_reaches_attention_outputs_and_products_are_priced() -> None:
    from reram.cost import cost_of_model, cost_of_run

    torch.manual_seed(0)
    model = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True).eval()
    x = torch.randn(2, 8, 16)
    chip = reram.convert(model, {"base": "neurram", "device": {"read_noise_rel": 0.05}})
    chip.program()
    reram.calibrate(chip, [x])
    reram.reset_events(chip)
    with torch.no_grad():
        assert not torch.allclose(chip(x), model(x), atol=1e-3)
    work, _ = cost_of_run(chip, (8, 16))
    products = [lw for lw in work.layers if lw.name == "self_attn.products"]
    assert products and products[0].macs == 2 * 2 * 8 * 8 * 8  # heads x L x S x head_dim, twice
    analytic, rep = cost_of_model(model, "neurram", (8, 16))
    names = {lw.name: lw for lw in analytic.layers}
    assert names["self_attn.products"].macs == products[0].macs and names["self_attn.q_proj"].analog
    assert rep.component_energy_J()["digital_layers"] > 0


def test_attention_products_match_sdpa_with_and_without_weights() -> None:
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 7, 4), torch.randn(2, 3, 7, 4)
    mask = torch.randn(5, 7)
    p = AttentionProducts().eval()
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(p(q, k, v, mask), ref, atol=1e-6)
    p.need_weights = True
    assert torch.allclose(p(q, k, v, mask), ref, atol=1e-6) and p.last_weights is not None
    assert AttentionProducts.macs(q, k) == 2 * 2 * 3 * 5 * 7 * 4


def test_a_rewritten_encoder_runs_in_eval_without_grad_even_with_a_padding_mask() -> None:
    from reram.nn import split_attention

    torch.manual_seed(0)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True), 2).eval()
    x, pad = torch.randn(2, 5, 16), torch.tensor([[False] * 5, [False, False, False, True, True]])
    with torch.no_grad():
        ref = enc(x, src_key_padding_mask=pad)
        split_attention(enc)
        out = enc(x, src_key_padding_mask=pad)  # the fused paths would read in_proj_weight
    keep = ~pad
    assert torch.allclose(out[keep], ref[keep], atol=1e-5)


def test_a_kv_cache_priced_in_cells_says_the_simulated_products_stay_digital(caplog) -> None:  # type: ignore[no-untyped-def]
    from reram.zoo import CharGPT

    model = CharGPT(vocab=16, dim=32, depth=1, heads=2, context=8)
    with caplog.at_level("WARNING", logger="reram.nn.convert"):
        reram.convert(model, {"base": "ideal", "cost": {"kv_store": "cells"}})
    assert "kv_store = 'cells'" in caplog.text and "not simulated" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="reram.nn.convert"):
        reram.convert(model, "ideal")
    assert "kv_store" not in caplog.text
