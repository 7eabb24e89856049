"""What programming the chip costs: the write-verify pulses the simulation counted, priced.

Every layer records, at its last programming, the pulses its cells received (write-verify: one
per iteration until a cell verified, the iteration limit for a stuck cell; the spares' and the
pair repair's re-programming added; one per cell in the one-shot modes) and the loop's
iterations. A pulse drops ``device.update.v_write_V`` across its cell for ``t_write_s`` at the
mid-window conductance (V^2 G t), and is followed by a verify read of that cell (its read pulse
V_read^2 G t_pulse, its bit line's charge and one conversion). Arrays program in parallel, each
one row of cells at a time, so the time is the tallest array's rows x the iterations x (one
write slot + one verify read).

The same per-pulse price serves on-chip training's write-verify writes (``reram.cost.training``).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from reram.config import Config
from reram.cost.model import CircuitCosts
from reram.nn import analog_layers


def write_pulse_J(cfg: Config) -> float:
    """Energy of one programming pulse across a cell at mid-window conductance (joules)."""
    upd, dev = cfg.device.update, cfg.device
    return upd.v_write_V**2 * (dev.g_min_S + dev.g_max_S) / 2 * upd.t_write_s


def verify_read_J(cfg: Config, cc: CircuitCosts | None = None) -> float:
    """Energy of one cell's verify read: its read pulse, its bit line, one conversion (joules)."""
    cc = cc or CircuitCosts.of(cfg)
    dev, arr = cfg.device, cfg.array
    return arr.v_read_V**2 * (dev.g_min_S + dev.g_max_S) / 2 * arr.t_pulse_s + cc.bitline_J + cc.conversion_J


def programming_cost(model: nn.Module) -> dict[str, Any]:
    """Energy (J) and time (s) of the last programming of every analog layer of ``model``.

    Returns:
        {"energy_J", "time_s", "pulses", "cells", "pulses_per_cell", "layers": {name: {...}}}.

    Raises:
        ValueError: if a layer has not been programmed.

    """
    layers: dict[str, dict[str, float]] = {}
    energy = time = 0.0
    pulses = cells = 0
    for name, m in analog_layers(model):
        if not bool(m.programmed):
            raise ValueError(f"layer {name!r} has not been programmed: call model.program() first")
        cfg: Config = m.config
        cc = CircuitCosts.of(cfg)
        e = m.program_pulses * (write_pulse_J(cfg) + verify_read_J(cfg, cc))
        iterations = max(1, m.program_iterations)
        rows = m.grid.rows_pad * m.grid.cells_per_weight_row + cfg.array.spare_rows * m.grid.cells_per_weight_row
        t = rows * iterations * (cfg.device.update.t_write_s + cc.t_plane_s + cc.t_conversion_s)
        layers[name] = {"energy_J": e, "time_s": t, "pulses": m.program_pulses, "cells": m.programmed_cells}
        energy, time = energy + e, max(time, t)
        pulses, cells = pulses + m.program_pulses, cells + m.programmed_cells
    return {"energy_J": energy, "time_s": time, "pulses": pulses, "cells": cells,
            "pulses_per_cell": pulses / cells if cells else 0.0, "layers": layers}  # fmt: skip
