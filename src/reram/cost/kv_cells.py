"""A language model's KV cache written into ReRAM cells, token by token (``cost.kv_store = "cells"``).

Instead of SRAM or DRAM, each attention module keeps its keys and values on arrays: per key /
value head, a stack of arrays of ``context`` rows (one token per row) and ``head_dim`` values
per row, each value a differential pair of cells side by side in its row, at the device's levels. Per decoded token:

- **write**: the token's key and value rows, written by write-verify (the pulses per cell and
  the loop's iterations measured by programming a seeded sample of cells at level targets with
  :func:`reram.device.program.program`, so they follow the device's tolerance, step gain, read
  noise, window spread and stuck cells), priced as programming is (:mod:`reram.cost.programming`);
  every array writes its row in parallel, so the time is the loop's iterations x (one write slot
  + one verify read);
- **scores** q K^T: a transposed read of the key arrays (the query's ``head_dim`` values driven
  on the columns, each token's row sensed: one conversion per cached token and head), and
  **attention x V**: a forward read of the value arrays (the ``context`` weights driven on the
  rows, ``head_dim`` columns sensed per array of rows, the arrays' partial sums added
  digitally); each read's planes, conversions and cells' V^2 G t as the chip's other reads;
- **endurance**: a ring buffer rewrites each row once per ``context`` tokens, so a cell takes
  pulses_per_cell / context pulses per token: ``device.update.endurance_cycles`` pulses last
  endurance x context / pulses_per_cell tokens (unlimited when the budget is 0).

Approximations: queries and attention weights quantised by the DAC as any input, the scores'
softmax digital and unpriced (as in the other stores), no verify of a row against its
neighbours' disturb, no refresh of relaxed rows over a long context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from reram.config import Config
from reram.cost.model import CircuitCosts
from reram.cost.programming import verify_read_J, write_pulse_J
from reram.device.program import program
from reram.periphery.dac import plane_counts

SAMPLE_CELLS = 4096  # cells written by the seeded write-verify sample (pulses per cell, iterations)
CELLS_PER_VALUE = 2  # a signed key or value as a differential pair


@dataclass(frozen=True)
class KVWrite:
    """Write-verify of one cell at a level target, from a seeded sample (``device`` settings)."""

    pulses_per_cell: float
    iterations: int
    failed_share: float

    @classmethod
    def of(cls, cfg: Config) -> KVWrite:
        """Program a seeded sample of cells to targets spread over the device's levels (or its
        window) as layers are programmed (:func:`reram.device.program.program`: the levels, each
        cell's window, stuck cells, the programming mode).
        """
        dev = cfg.device
        gen = torch.Generator().manual_seed(cfg.seed)
        if dev.levels >= 2:  # the device's levels, drawn evenly
            share = torch.randint(0, dev.levels, (SAMPLE_CELLS,), generator=gen, dtype=torch.float64) / (dev.levels - 1)
        else:  # continuous conductances: targets spread over the window
            share = torch.rand(SAMPLE_CELLS, generator=gen, dtype=torch.float64)
        res = program(dev.g_min_S + share * (dev.g_max_S - dev.g_min_S), dev, gen)
        pulses = 1.0 if res.pulses is None else float(res.pulses.double().mean())  # program() always counts them
        return cls(pulses, max(1, res.iterations), float(res.failed.double().mean()))


def kv_in_cells(
    heads: list[tuple[int, int, int]], cfg: Config, context: int, write: KVWrite | None = None
) -> dict[str, Any]:
    """Per-token energy (J) and time (s) of a KV cache held in cells, and what it occupies.

    Args:
        heads: per attention module (query heads, key/value heads, head dim).
        cfg: the chip (array size, periphery, device, cost circuits).
        context: cached tokens read per decoded token.
        write: the cells' write-verify (default: :meth:`KVWrite.of` ``cfg``).

    Returns:
        {"write_J", "read_J", "write_s", "read_s" (per token, summed over the modules: each
        module's write and reads follow its projections), "cores", "cells", "pulses_per_cell",
        "write_iterations", "failed_share", "lifetime_tokens", "conversions"}.

    """
    arr, cc = cfg.array, CircuitCosts.of(cfg)
    wv = write or KVWrite.of(cfg)
    g_mid = (cfg.device.g_min_S + cfg.device.g_max_S) / 2
    cell_read_J = arr.v_read_V**2 * g_mid * arr.t_pulse_s  # one driven cell, one plane
    dac = cfg.periphery.dac
    q_planes, q_conv, _ = plane_counts(dac, 2.0)  # signed queries: both sign phases
    a_planes, a_conv, _ = plane_counts(dac, 1.0)  # attention weights >= 0: one phase
    row_tiles = math.ceil(context / arr.rows)  # arrays of rows per head (a pair's cells side by side in a row)
    t_conv = cc.t_conversion_s + cc.t_sample_s
    write_J = read_J = write_s = read_s = conversions = 0.0
    cores = cells = 0
    for q_heads, kv_heads, head_dim in heads:
        cols = head_dim * CELLS_PER_VALUE
        col_tiles = math.ceil(cols / arr.cols)
        cores += 2 * kv_heads * row_tiles * col_tiles  # key and value arrays
        cells += 2 * kv_heads * context * cols
        new_cells = 2 * kv_heads * cols  # one row per key and value head
        write_J += new_cells * wv.pulses_per_cell * (write_pulse_J(cfg) + verify_read_J(cfg, cc))
        write_s += wv.iterations * (cfg.device.update.t_write_s + cc.t_plane_s + cc.t_conversion_s)
        # scores: each query head drives its key head's columns; every cached row converted
        score_conv = q_heads * context * q_conv
        # attention x V: the context weights on the rows; head_dim columns per array of rows, partial sums added
        av_conv = q_heads * head_dim * row_tiles * a_conv
        conversions += score_conv + av_conv
        driven = q_heads * context * cols * (q_planes + a_planes)  # cells under a driven line, per plane
        read_J += ((score_conv + av_conv) * (cc.conversion_J + cc.sample_J) + driven * cell_read_J
                   + q_heads * (q_planes * row_tiles * cols + a_planes * context * col_tiles) * cc.row_pulse_J
                   + q_heads * head_dim * row_tiles * cc.add_J)  # fmt: skip
        # the query heads sharing a key / value head read its arrays one after another; the
        # arrays of one head read in parallel, each converting on its own ADCs
        adcs = kv_heads * row_tiles * col_tiles * cc.adcs_per_core  # of the key (or the value) arrays
        share = q_heads / kv_heads
        read_s += (
            share * (q_planes + a_planes) * cc.t_plane_s
            + (math.ceil(score_conv / adcs) + math.ceil(av_conv / adcs)) * t_conv
        )
    budget = cfg.device.update.endurance_cycles
    per_token = wv.pulses_per_cell / context  # a row is rewritten once per context tokens
    return {"write_J": write_J, "read_J": read_J, "write_s": write_s, "read_s": read_s, "cores": cores,
            "cells": cells, "pulses_per_cell": wv.pulses_per_cell, "write_iterations": wv.iterations,
            "failed_share": wv.failed_share, "conversions": conversions,
            "lifetime_tokens": budget / per_token if budget > 0 else math.inf}  # fmt: skip
