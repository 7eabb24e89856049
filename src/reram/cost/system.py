"""A language model on a system of chips: per-token latency and energy, throughput, per chip.

The per-token work is the analytic workload of one token through every layer
(:func:`reram.cost.cost_of_model` with a one-token input), whose layers already include what
crosses between chips (``links``). On top of it, per attention module (an
:class:`reram.nn.AttentionProducts`, found by a shape trace) the token attends over a KV cache of
``context`` tokens:

- ``kv_cache``: its key and value (2 x kv heads x head dim, at ``cost.act_bits``) written once,
  the whole cache read once: in SRAM if the cache of every layer fits the chips' buffers
  (``cost.buffer_kB`` each), else in DRAM (``cost.kv_store = "auto"``; "sram" / "dram" force
  one); with ``"cells"`` the cache is written into ReRAM arrays token by token and both
  attention products are analog reads on them (:mod:`reram.cost.kv_cells`: write-verify
  energy and time, endurance), in place of the two items here;
- ``attention``: the 2 x heads x context x head dim products, on the digital side of the
  layer's home chip (one 8-bit multiply and an accumulator add each; the operand reads are the
  cache's), at ``cost.digital_mac_units`` per clock.

Decode (one token of one sequence): every layer after another, so the latency per token is the
sum of the layers' latencies (links included) and the attention's. With the layers' chips
working as pipeline stages on successive tokens (prefill, or many sequences in flight), a chip
is busy per token for the latencies of the layers it holds (a layer split over chips busies
each) and of the attention it hosts; the busiest chip sets the tokens per second, and each
chip's utilisation is its busy time over that. A prompt of ``prompt`` tokens takes the first
token's latency plus (prompt - 1) bottleneck intervals, its attention at half the prompt's
length on average.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from reram.config import Config, load_config
from reram.cost.kv_cells import KVWrite, kv_in_cells
from reram.cost.library import node_params
from reram.cost.model import CostReport, price, work_transfers
from reram.cost.workload import Workload, analytic_workload
from reram.mapping.traffic import home_chip, hops
from reram.nn.attention import AttentionProducts, split_attention


@dataclass(frozen=True)
class AttentionShape:
    """One attention module's shape at one token: query heads, key/value heads, head dim."""

    name: str
    heads: int
    kv_heads: int
    head_dim: int


def attention_shapes(model: nn.Module) -> list[AttentionShape]:
    """The attention modules of a token model, from a one-token trace on the meta device."""
    m = copy.deepcopy(model).to("meta")
    split_attention(m)
    found: list[AttentionShape] = []
    hooks = []
    for name, mod in m.named_modules():
        if isinstance(mod, AttentionProducts):

            def hook(mod: nn.Module, args: tuple[torch.Tensor, ...], out: Any, name: str = name) -> None:
                q, k = args[0], args[1]
                found.append(AttentionShape(name, q.shape[1], k.shape[1], q.shape[-1]))

            hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            m.eval()(torch.zeros(1, 1, device="meta"))
    except Exception as err:
        raise ValueError(f"the model does not take a (1, 1) batch of token ids: {err}") from err
    finally:
        for h in hooks:
            h.remove()
    return found


def system_cost(model: nn.Module, config: Config | str | None, context: int, prompt: int = 0) -> dict[str, Any]:
    """Per-token cost of a token model on the chips (see the module docstring).

    Args:
        model: a model of token ids (N, L) -> (N, L, vocab); a shape-only (meta) one is enough.
        config: the chip (``chip.partition``, ``chip.link_*``).
        context: tokens in the KV cache when a token is decoded.
        prompt: tokens of a prompt to prefill (0: none).

    Returns:
        {"per_token": {...}, "energy_per_token_J": {component: J}, "chips": [per-chip rows],
        "work": the Workload, "report": the per-token CostReport}.

    Raises:
        ValueError: ``context`` or ``prompt`` out of range.

    """
    if not isinstance(context, int) or context < 1:
        raise ValueError(f"context = {context!r} is invalid: allowed is an integer >= 1 (tokens)")
    if not isinstance(prompt, int) or prompt < 0:
        raise ValueError(f"prompt = {prompt!r} is invalid: allowed is an integer >= 0 (tokens)")
    cfg = load_config(config)
    shapes = attention_shapes(model)  # first: a model that takes no token ids fails here, by name
    work = analytic_workload(model, cfg, (1,))
    report = price(work)
    node = node_params(cfg.chip.node_nm)
    cost = cfg.cost
    n_chips = max(1, work.placement.n_chips)
    kv_bits_per_token = sum(2 * a.kv_heads * a.head_dim for a in shapes) * cost.act_bits
    kv_total_bits = kv_bits_per_token * context
    fits = kv_total_bits <= n_chips * cost.buffer_kB * 8192
    in_sram = cost.kv_store == "sram" or (cost.kv_store == "auto" and fits)
    per_bit = node.sram_J_per_bit if in_sram else node.dram_J_per_bit
    mac_J = node.mult8_J + node.add_energy_J(cost.accumulator_bits)
    mac_s = 1.0 / (cost.digital_mac_units * cost.clock_Hz)
    homes = _homes(work)
    busy = _busy(work, report, homes, n_chips)
    attn_J = attn_s = prefill_attn_s = 0.0
    cells: dict[str, Any] | None = None
    if cost.kv_store == "cells":  # written row by row into arrays; the two products read on them
        heads, wv = [(a.heads, a.kv_heads, a.head_dim) for a in shapes], KVWrite.of(cfg)
        cells = kv_in_cells(heads, cfg, context, wv)
        kv_J, attn_J, attn_s = cells["write_J"], cells["read_J"], cells["write_s"] + cells["read_s"]
        for a, share in zip(shapes, _shares(shapes), strict=True):  # on each module's home chip
            busy[homes.get(a.name, 0)] += share * attn_s
        half = kv_in_cells(heads, cfg, max(1, prompt // 2), wv)  # a prompt token attends over half the prompt
        prefill_attn_s = half["write_s"] + half["read_s"]
    else:
        for a in shapes:
            macs = 2 * a.heads * context * a.head_dim
            attn_J += macs * mac_J
            attn_s += macs * mac_s
            prefill_attn_s += 2 * a.heads * max(prompt, 1) / 2 * a.head_dim * mac_s
            busy[homes.get(a.name, 0)] += macs * mac_s
        kv_J = (kv_bits_per_token + kv_total_bits) * per_bit
    energy = {k: v for k, v in report.component_energy_J().items() if v}
    energy["attention"] = attn_J
    energy["kv_cache"] = kv_J
    total_J = sum(energy.values())
    decode_s = report.total_latency_s + attn_s
    bottleneck = max(busy)
    per_token = {
        "context_tokens": float(context),
        "decode_latency_s": decode_s,
        "decode_tokens_per_s": 1.0 / decode_s,
        "pipelined_tokens_per_s": 1.0 / bottleneck if bottleneck > 0 else float("inf"),
        "energy_per_token_J": total_J,
        "links_share": energy.get("links", 0.0) / total_J,
        "kv_cache_share": kv_J / total_J,
        "attention_share": attn_J / total_J,
        "kv_cache_bits": float(kv_total_bits),
        "kv_cache_in_sram": float(in_sram and cells is None),
        "kv_cache_in_cells": float(cells is not None),
        "chips": float(n_chips),
        "cores_used": float(work.placement.cores_used),
        "mean_chip_utilisation": sum(busy) / (n_chips * bottleneck) if bottleneck else 0.0,
    }
    if cells is not None:  # the KV arrays on the cores the model leaves free, then on chips of their own
        per_token.update({f"kv_{k}": float(v) for k, v in cells.items() if k not in ("write_J", "read_J")})
        free = n_chips * cfg.chip.cores - work.placement.cores_used
        per_token["kv_chips_added"] = float(math.ceil(max(0, cells["cores"] - free) / cfg.chip.cores))
    if prompt:
        first = report.total_latency_s + prefill_attn_s
        per_token["prefill_latency_s"] = first + (prompt - 1) * bottleneck
        per_token["prefill_tokens"] = float(prompt)
    return {"per_token": per_token, "energy_per_token_J": energy, "chips": _chip_rows(work, busy, bottleneck),
            "work": work, "report": report}  # fmt: skip


def _busy(work: Workload, report: CostReport, homes: dict[str, int], n_chips: int) -> list[float]:
    """Each chip's busy time per token for the layers it holds (seconds)."""
    busy = [0.0] * n_chips
    for layer in work.layers:
        for chip in {s.chip for s in layer.sites} or {homes.get(layer.name, 0)}:
            busy[chip] += report.latency_s[layer.name]
    return busy


def _shares(shapes: list[AttentionShape]) -> list[float]:
    """Each attention module's share of the cached keys and values (by its key/value width)."""
    widths = [a.kv_heads * a.head_dim for a in shapes]
    return [w / sum(widths) for w in widths] if widths and sum(widths) else [0.0] * len(shapes)


def _homes(work: Workload) -> dict[str, int]:
    """Each layer's home chip; a digital layer (and an attention module) runs on the home of the
    analog layer before it.
    """
    homes: dict[str, int] = {}
    last = 0
    for layer in work.layers:
        if layer.sites:
            last = home_chip(layer.sites)
        homes[layer.name] = last
    return homes


def _chip_rows(work: Workload, busy: list[float], bottleneck: float) -> list[dict[str, Any]]:
    """Per chip: cores used, weights held, layers, bits in and out per token, utilisation."""
    n = len(busy)
    rows: list[dict[str, Any]] = [
        {"chip": c, "cores_used": 0, "weights": 0, "layers": 0, "bits_in": 0.0, "bits_out": 0.0, "bit_hops": 0.0,
         "busy_s": busy[c], "utilisation": busy[c] / bottleneck if bottleneck else 0.0} for c in range(n)
    ]  # fmt: skip
    for layer in work.layers:
        if layer.grid is None:
            continue
        sizes = {(r, c): rr * cc for r, c, rr, cc in layer.grid.tiles()}
        for chip in {s.chip for s in layer.sites}:
            rows[chip]["layers"] += 1
        for s in layer.sites:
            rows[s.chip]["cores_used"] += 1
            rows[s.chip]["weights"] += sizes[(s.row_tile, s.col_tile)]
    positions = {lw.name: lw.positions for lw in work.layers}
    for name, transfers in work_transfers(work).items():
        for t in transfers:
            bits = t.bits * positions[name]
            rows[t.src]["bits_out"] += bits
            rows[t.dst]["bits_in"] += bits
            rows[t.src]["bit_hops"] += bits * hops(t.src, t.dst, n, work.config.chip.topology)
    return rows


def system_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready part of :func:`system_cost`'s result."""
    report: CostReport = result["report"]
    return {"per_token": result["per_token"], "energy_per_token_J": result["energy_per_token_J"],
            "chips": result["chips"], "layers": report.as_dict()["layers"]}  # fmt: skip
