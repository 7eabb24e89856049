"""Digital baselines on the same network and node, for the ratios a reader asks for.

- ``digital_sram``: an 8-bit MAC engine (``digital_mac_units`` at ``clock_Hz``) that reads every
  weight from SRAM for each MAC; when the weights exceed ``digital_sram_kB`` they are streamed
  from DRAM once per inference, and DRAM bandwidth may bound the latency.
- ``digital_reram``: the same weights stored as bits in binary ReRAM arrays of the chip's size,
  read out digitally (``digital_reram_sense_share`` bit lines per sense amplifier, one row access
  per ``reram_t_read_s``) and multiplied in 8-bit MACs (Marinella et al. 2018's comparison).

Both pay the same activation traffic (buffers, DRAM for the input) as the analog design.
"""

from __future__ import annotations

import math
from typing import Any

from reram.config import Config
from reram.cost.library import node_params
from reram.cost.model import CostReport, digital_mac_J
from reram.cost.workload import Workload

WEIGHT_BITS = 8


def _activation_J(report: CostReport) -> float:
    comp = report.component_energy_J()
    return comp["buffer"] + comp["activation"] + comp["dram"]


def _weights(work: Workload) -> float:
    return float(sum(layer.in_features * layer.out_features for layer in work.layers))


def digital_sram(work: Workload, report: CostReport) -> dict[str, float]:
    """Energy (J) and latency (s) per inference of the SRAM-weight digital accelerator."""
    cfg = work.config
    node = node_params(cfg.chip.node_nm)
    macs = report.macs
    energy = macs * digital_mac_J(node, cfg) + _activation_J(report)
    t = macs / (cfg.cost.digital_mac_units * cfg.cost.clock_Hz)
    weight_bytes = _weights(work) * WEIGHT_BITS / 8
    if weight_bytes > cfg.cost.digital_sram_kB * 1024:  # weights stream from DRAM every inference
        energy += weight_bytes * 8 * node.dram_J_per_bit
        t = max(t, weight_bytes / node.dram_bandwidth_B_per_s)
    return {"energy_J": energy, "latency_s": t}


def digital_reram_mac_J(cfg: Config) -> float:
    """One MAC with its 8-bit weight read digitally from binary ReRAM cells."""
    node = node_params(cfg.chip.node_nm)
    return WEIGHT_BITS * node.reram_read_J_per_bit + node.mult8_J + node.add_energy_J(cfg.cost.accumulator_bits)


def digital_reram(work: Workload, report: CostReport) -> dict[str, float]:
    """Energy (J) and latency (s) per inference of the digital-ReRAM design."""
    cfg = work.config
    node = node_params(cfg.chip.node_nm)
    arr = cfg.array
    arrays = math.ceil(_weights(work) * WEIGHT_BITS / (arr.rows * arr.cols))
    bits_per_s = arrays * (arr.cols / cfg.cost.digital_reram_sense_share) / node.reram_t_read_s
    t = report.macs * WEIGHT_BITS / bits_per_s
    return {"energy_J": report.macs * digital_reram_mac_J(cfg) + _activation_J(report), "latency_s": t}


def compare(work: Workload, report: CostReport) -> dict[str, Any]:
    """Both baselines with the analog design's advantage (baseline / analog) in energy and latency."""
    e, t = report.total_energy_J, report.total_latency_s
    out: dict[str, Any] = {}
    for name, fn in (("digital_sram", digital_sram), ("digital_reram", digital_reram)):
        b = fn(work, report)
        out[name] = {**b, "energy_ratio": b["energy_J"] / e, "latency_ratio": b["latency_s"] / t}
    return out


def block_comparison(cfg: Config, analog_peak: dict[str, float]) -> dict[str, float]:
    """One full-array VMM against the digital-ReRAM block holding the same 8-bit weights.

    The digital block reads every row of its binary arrays (all arrays in parallel), in
    ``digital_reram_sense_share`` accesses per row; each weight then takes one 8-bit MAC.
    """
    node = node_params(cfg.chip.node_nm)
    arr = cfg.array
    t_digital = arr.rows * cfg.cost.digital_reram_sense_share * node.reram_t_read_s
    e_digital = digital_reram_mac_J(cfg)
    return {
        "digital_reram_energy_per_mac_J": e_digital,
        "digital_reram_latency_per_vmm_s": t_digital,
        "energy_ratio": e_digital / analog_peak["energy_per_mac_J"],
        "latency_ratio": t_digital / analog_peak["latency_per_mvm_s"],
    }
