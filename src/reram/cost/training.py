"""Cost of one on-chip training step (forward, transposed and update kernels) and its digital baselines.

Reads the event counts (:class:`reram.events.EventCounts`) of the on-chip layers and prices them with the same
per-event circuit costs as inference (:class:`reram.cost.model.CircuitCosts`):

- reads (forward and transposed): one line drive per input element and input plane (word line
  and input line), one bit-line charge and one ADC conversion per output and plane, and the
  joules the cells dissipated;
- update: each row pulse charges its row line to +V_w/2 (and switches the word line), each column
  pulse its column line to -V_w/2; a coincidence drops V_w across a cell for t_write (V_w^2 G t),
  a half-selected cell V_w/2 (the joules counted by the layer at each cell's conductance);
  write-verify writes (carry resets) count 10 pulses each at mid-window conductance;
- digital: the mixed-precision accumulator's multiply-accumulates at the digital MAC energy.

Baselines run the same three products digitally (forward, backward, weight gradient): the SRAM
design reads 8-bit weights from SRAM, the digital-ReRAM design from binary ReRAM cells; both write
the updated 8-bit weights back. Latency: reads one vector at a time per layer (input pulse plus
conversions), updates one sample at a time (``slots`` write slots), row-by-row programming
(mixed precision's and carry's transfers, write-verify rows) one pulse slot at a time, and
mixed precision's digital multiply-accumulates on the SRAM design's MAC array; the SRAM engine
at ``digital_mac_units`` MACs per clock, the digital-ReRAM design limited by its bit reads
(shared sense amplifiers, ``reram_t_read_s`` per access) and a row-by-row write-back.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from reram.config import Config
from reram.cost.baselines import digital_reram_mac_J
from reram.cost.model import CircuitCosts, digital_mac_J
from reram.cost.programming import write_pulse_J
from reram.events import EventCounts

WRITE_VERIFY_PULSES = 10  # pulses of one write-verify programming (NeuRRAM: most cells in < 10)


_RENAMED = {"forward_vectors": "vectors", "forward_macs": "macs", "read_planes": "mvms", "cell_read_J": "cell_energy_J",
            "updates": "update_samples", "row_pulses": "update_row_pulses", "col_pulses": "update_col_pulses",
            "cell_pulses": "update_cell_pulses"}  # fmt: skip


def _events(stored: dict[str, float]) -> dict[str, float]:
    """Counts in today's vocabulary (records written before the rename keep their old keys)."""
    out = {f.name: 0.0 for f in fields(EventCounts)}
    for k, v in stored.items():
        out[_RENAMED.get(k, k)] = v
    if "mvms" not in stored and "read_planes" not in stored:  # older records: one plane per read
        out["mvms"] = out["vectors"] + out["transposed_vectors"]
    if "timesteps" not in stored:  # records before integrating neurons: a timestep and a conversion per plane
        out["timesteps"] = out["slices"] = out["mvms"]
    return out


def training_step_cost(
    shapes: list[tuple[int, int]], cfg: Config, events: dict[str, float], slots: int = 31
) -> dict[str, Any]:
    """Energy (J) and latency (s) of the counted training step(s), analog and digital baselines.

    Args:
        shapes: (in_features, out_features) of each on-chip layer.
        cfg: the chip.
        events: summed ``EventCounts`` (as a dict) of the step(s) to price.
        slots: update pulse slots per sample.

    Returns:
        {"analog_J", "components_J", "analog_latency_s", "digital_sram_J", "digital_reram_J",
        "digital_latency_s", "digital_reram_latency_s", "energy_gain_vs_sram", "energy_gain_vs_reram",
        "latency_gain", "latency_gain_vs_reram", ...}.

    """
    events = _events(events)
    cc = CircuitCosts.of(cfg)
    node, arr, upd, dev = cc.node, cfg.array, cfg.device.update, cfg.device
    c_seg = cc.pitch_m * node.wire_cap_F_per_m
    g_mid = (dev.g_min_S + dev.g_max_S) / 2
    half = upd.v_write_V / 2
    weights = sum(i * o for i, o in shapes)
    rows = sum(i for i, _ in shapes) / max(1, len(shapes))
    cols = sum(o for _, o in shapes) / max(1, len(shapes))
    c_row, wl = cols * (c_seg + cfg.cost.access_gate_F), cfg.cost
    parts = {
        "read_drivers": events["dac_conversions"] * cc.row_pulse_J,
        "read_bitlines_adc": events["adc_conversions"] * (cc.bitline_J + cc.conversion_J)
        + events["integrations"] * cc.sample_J,
        "read_cells": events["cell_energy_J"],
        "read_wires": events.get("wire_energy_J", 0.0),  # counted from the arrays' power forms (IR drop on)
        "update_lines": events["update_row_pulses"]
        * (c_row * (wl.wl_voltage_V - wl.wl_low_V) * wl.wl_voltage_V + cols * c_seg * half**2)
        + events["update_col_pulses"] * rows * c_seg * half**2,
        "update_cells": events["update_cell_J"],  # counted cell by cell
        "write_verify": events["programmed_cells"] * WRITE_VERIFY_PULSES * write_pulse_J(cfg),
        "digital": events["digital_macs"] * digital_mac_J(node, cfg),
    }
    analog = sum(parts.values())
    fwd, bwd = events["macs"], events["transposed_macs"]
    macs = fwd + bwd + fwd  # forward, backward, weight gradient
    write_back_bits = 8 * weights
    sram = macs * digital_mac_J(node, cfg) + write_back_bits * node.sram_J_per_bit
    reram = macs * digital_reram_mac_J(cfg) + write_back_bits * upd.v_write_V**2 * g_mid * upd.t_write_s
    t_conv = cc.t_conversion_s * math.ceil(max(1.0, cols) / max(1, cc.adcs_per_core))
    # each array activation's timesteps (bit-serial planes, a transposed read's K phases), then its conversions
    t_reads = events["mvms"] * cc.t_plane_s + events["timesteps"] * cc.t_sample_s + events["slices"] * t_conv
    programming = events.get("program_slots", 0.0) + events.get("verify_rows", 0.0) * WRITE_VERIFY_PULSES
    t_analog = t_reads + (events["update_samples"] * slots + programming) * upd.t_write_s
    t_analog += events["digital_macs"] / (cfg.cost.digital_mac_units * cfg.cost.clock_Hz)  # mixed precision's sums
    t_digital = macs / (cfg.cost.digital_mac_units * cfg.cost.clock_Hz)
    # digital ReRAM: weights read bit by bit through shared sense amplifiers, written back row by row
    arrays = math.ceil(write_back_bits / (arr.rows * arr.cols))
    bits_per_s = arrays * (arr.cols / cfg.cost.digital_reram_sense_share) / node.reram_t_read_s
    t_reram = macs * 8 / bits_per_s + math.ceil(write_back_bits / arr.cols) * upd.t_write_s
    return {
        "analog_J": analog,
        "components_J": parts,
        "analog_latency_s": t_analog,
        "digital_sram_J": sram,
        "digital_reram_J": reram,
        "digital_latency_s": t_digital,
        "energy_gain_vs_sram": sram / analog if analog else math.inf,
        "energy_gain_vs_reram": reram / analog if analog else math.inf,
        "digital_reram_latency_s": t_reram,
        "latency_gain": t_digital / t_analog if t_analog else math.inf,
        "latency_gain_vs_reram": t_reram / t_analog if t_analog else math.inf,
        "macs": macs,
        "fJ_per_mac": 1e15 * analog / macs if macs else 0.0,
    }
