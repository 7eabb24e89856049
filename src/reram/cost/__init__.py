"""Energy, latency and area of a network on a chip, from the simulated run or the mapping alone.

- :func:`cost_of_run`: price what a converted model did (its event counters, the measured cell
  energy) per inference.
- :func:`cost_of_model`: the same from the layer shapes and the mapping alone (no simulation),
  for models too large to simulate; pass a measured ``profile`` to match a run.
- :func:`programming_cost`: the energy and time of programming the chip (write-verify pulses).
- :func:`summarize`: metrics, per-layer and per-component breakdowns, the digital baselines and
  the full-array peak, as one JSON-ready dict.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from reram.config import Config, load_config
from reram.cost.baselines import block_comparison, compare
from reram.cost.library import NodeParams, available_nodes, node_params
from reram.cost.model import COMPONENTS, CircuitCosts, CostReport, peak, price
from reram.cost.programming import programming_cost, verify_read_J, write_pulse_J
from reram.cost.workload import (
    LayerProfile,
    LayerWork,
    Workload,
    analytic_workload,
    counted_workload,
    default_profile,
    profile_of,
)

__all__ = [
    "COMPONENTS",
    "CircuitCosts",
    "CostReport",
    "LayerProfile",
    "LayerWork",
    "NodeParams",
    "Workload",
    "analytic_workload",
    "available_nodes",
    "cost_of_model",
    "cost_of_run",
    "counted_workload",
    "default_profile",
    "node_params",
    "peak",
    "price",
    "profile_of",
    "programming_cost",
    "summarize",
    "verify_read_J",
    "write_pulse_J",
]


def cost_of_run(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> tuple[Workload, CostReport]:
    """Price the work a converted model did since ``reram.reset_events`` (per inference); with
    ``input_shape`` (one sample's), the modules it ran digitally are priced too (traced MACs).
    """
    work = counted_workload(model, input_shape)
    return work, price(work)


def cost_of_model(
    model: nn.Module,
    config: Config | str | None,
    input_shape: tuple[int, ...],
    profile: dict[str, LayerProfile] | None = None,
) -> tuple[Workload, CostReport]:
    """Price ``model`` on the chip from its shapes and mapping alone (no analog simulation)."""
    work = analytic_workload(model, config, input_shape, profile)
    return work, price(work)


def summarize(work: Workload, report: CostReport) -> dict[str, Any]:
    """Everything a reader wants, JSON-ready: metrics, breakdowns, baselines, full-array peak."""
    cfg = load_config(work.config)
    top = peak(cfg)
    out = report.as_dict()
    out["config"] = cfg.name
    out["node_nm"] = cfg.chip.node_nm
    out["cores_used"] = work.placement.cores_used
    out["baselines"] = compare(work, report)
    out["peak_full_array"] = top
    out["peak_vs_digital_reram_block"] = block_comparison(cfg, top)
    return out
