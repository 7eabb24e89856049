"""Event counts x component physics -> joules, seconds and square metres.

Energy per component (per inference):

- ``cell``: the joules the cells dissipated, sum of (V_row - V_col)^2 G t_pulse (counted in the
  MVM itself, or derived from the target conductances on the analytic path);
- ``wires``: with exact IR drop (current sensing), what the line segments, driver and sense
  resistances and access transistors dissipated, from the solved node voltages (counted path);
- ``wordline``: each row pulse (each input plane of a row) switches an access-transistor word
  line from its low to its high level and charges the input line, C_wl (V_hi - V_lo) V_hi +
  C_line v_read^2, with C from the line length (cells x pitch x wire capacitance) and the gates;
- ``bitline``: each converted column's line charged to v_read;
- ``adc``: one conversion per column per plane (or per slice when the neuron integrates the
  planes): a SAR ADC from the Murmann-survey fit at its ENOB (FOM_W 2^ENOB plus the thermal
  limit), or NeuRRAM's neuron: ``bits`` charge-decrement steps, each C_step V_dd^2 and a
  comparator decision, plus the reset/precharge/control floor C_reset V_dd^2 per conversion;
- ``integrator``: the neuron's sample-and-integrate timesteps, C_sample V_dd^2 per line and
  timestep (bit j of a slice takes 2^j timesteps);
- ``shift_add``/``psum``: digital additions of ``accumulator_bits``;
- ``buffer``: SRAM reads of the layer's inputs and writes of its outputs (``act_bits`` each);
- ``interconnect``: outputs moved to the next layer's cores and partial sums between cores,
  0.5 C_wire V_dd^2 per bit per metre, on one chip;
- ``links``: what crosses between chips (``reram.mapping.traffic``: a layer's inputs to the
  chips holding its tiles, partial sums back to its home chip), ``chip.link_pJ_per_bit`` per bit
  and hop of the chips' mesh or ring; each layer's transfers also take hops x ``link_latency_ns`` plus their
  bits over ``link_Gbps`` (the largest transfer of each kind, the links working in parallel);
- ``activation``: one digital operation per output (activation, pooling compare);
- ``dram``: the input sample read and the result written off chip;
- ``digital_layers``: layers that stay digital, at the digital baseline's energy per MAC.

Latency: each plane takes t_pulse or the lines' RC settling if longer (:func:`settling_s`),
each of the neuron's samples its cycles, each conversion its steps and reset cycles, serialised
``cols_per_adc`` deep; a layer's tiles run in parallel (one tile per core) and its vectors one
after another; layers add up per inference, and with ``pipeline`` the throughput is set by the
slowest layer. Area: cells (F^2), drivers, ADCs
(~2^bits), per-core registers, SRAM buffers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from reram.config import Config
from reram.cost.library import NodeParams, node_params
from reram.cost.workload import LayerWork, Workload
from reram.mapping.traffic import Transfer, hops, network_transfers
from reram.periphery.dac import plane_counts

COMPONENTS = (
    "cell",
    "wires",
    "wordline",
    "bitline",
    "adc",
    "integrator",
    "shift_add",
    "psum",
    "buffer",
    "interconnect",
    "links",
    "activation",
    "dram",
    "digital_layers",
)
CORE_COMPONENTS = ("cell", "wires", "wordline", "bitline", "adc", "integrator", "shift_add", "psum")


@dataclass(frozen=True)
class CircuitCosts:
    """Per-event energies, times and areas of one chip design (derived from config and node)."""

    node: NodeParams
    pitch_m: float
    row_pulse_J: float
    wl_toggle_J: float
    bitline_J: float
    conversion_J: float
    sample_J: float
    add_J: float
    t_conversion_s: float
    t_sample_s: float
    t_plane_s: float
    adcs_per_core: int
    core_area_m2: float
    core_area_parts_m2: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, cfg: Config) -> CircuitCosts:
        """Derive the per-event costs of ``cfg``'s circuits at its technology node."""
        node = node_params(cfg.chip.node_nm)
        cc, arr, adc = cfg.cost, cfg.array, cfg.periphery.adc
        f_m = cfg.chip.node_nm * 1e-9
        pitch = math.sqrt(cc.cell_area_F2) * f_m
        c_seg = pitch * node.wire_cap_F_per_m
        c_wl = arr.cols * (c_seg + cc.access_gate_F)
        wl_toggle = c_wl * (cc.wl_voltage_V - cc.wl_low_V) * cc.wl_voltage_V  # from the supply at V_hi
        row_pulse = wl_toggle + arr.cols * c_seg * arr.v_read_V**2
        bitline = arr.rows * c_seg * arr.v_read_V**2
        t_plane = max(arr.t_pulse_s, settling_s(cfg, c_seg))
        t_conv = (adc.bits * cc.cycles_per_bit + cc.reset_cycles) / cc.clock_Hz
        if cc.adc == "sar":
            conv, sample, t_sample = node.adc_energy_J(max(1.0, adc.bits - cc.adc_enob_loss_bits)), 0.0, 0.0
        else:  # bits charge-decrement steps (a comparator decision each), the amplifiers' bias over the time
            vdd = cc.neuron_vdd_V or node.vdd_V
            t_sample = cc.sample_cycles / cc.clock_Hz
            conv = adc.bits * (cc.neuron_cap_F * vdd**2 + node.comparator_J) + cc.neuron_bias_A * vdd * t_conv
            sample = adc.sample_cap_F * vdd**2 + cc.neuron_bias_A * vdd * t_sample
        adcs = max(1, arr.weight_cols // cc.cols_per_adc)
        parts = {
            "cells": (arr.rows + arr.spare_rows * (arr.rows // arr.weight_rows))
            * (arr.cols + arr.spare_cols * (arr.cols // arr.weight_cols))
            * cc.cell_area_F2
            * f_m**2,  # spares too
            "drivers": (arr.rows + arr.cols) * node.driver_area_m2,
            "adcs": adcs * node.adc_area_m2_per_step * 2**adc.bits,
            "registers": adcs * cc.accumulator_bits * 4 * node.sram_bit_area_m2,  # flip-flop ~ 4 SRAM bits
        }
        return cls(
            node=node,
            pitch_m=pitch,
            row_pulse_J=row_pulse,
            wl_toggle_J=wl_toggle,
            bitline_J=bitline,
            conversion_J=conv,
            sample_J=sample,
            add_J=node.add_energy_J(cc.accumulator_bits),
            t_conversion_s=t_conv,
            t_sample_s=t_sample,
            t_plane_s=t_plane,
            adcs_per_core=adcs,
            core_area_m2=sum(parts.values()),
            core_area_parts_m2=parts,
        )


def settling_s(cfg: Config, c_seg_F: float) -> float:
    """Time a read's lines take to settle to half an ADC step (seconds).

    The driven row is a distributed RC line behind its driver, tau_row = (r_wire cols / 2 +
    r_source) cols c_seg (Elmore); the sensed column too (r_col, r_sense), and in voltage mode
    its floating bit line charges through the cells in parallel, + rows c_seg / sum G, sum G ~
    rows x the window's middle; current sensing holds the column at virtual ground (only its wire RC). Settling to
    half an LSB of a ``bits``-bit conversion takes ln(2**(bits + 1)) time constants.
    """
    arr, dev = cfg.array, cfg.device
    c_row, c_col = arr.cols * c_seg_F, arr.rows * c_seg_F
    tau_row = (arr.r_wire_ohm * arr.cols / 2 + arr.r_source_ohm) * c_row
    tau_col = (arr.r_bitline_ohm * arr.rows / 2 + arr.r_sense_ohm) * c_col
    if cfg.periphery.adc.sensing == "voltage":
        tau_col += c_col / (arr.rows * (dev.g_min_S + dev.g_max_S) / 2)
    return (tau_row + tau_col) * math.log(2 ** (cfg.periphery.adc.bits + 1))


@dataclass
class CostReport:
    """Energy, latency and area of one inference.

    Attributes:
        energy_J: {layer: {component: joules per inference}}.
        latency_s: {layer: seconds per inference}.
        area_m2: {part: square metres of the chips used}.
        macs: multiply-accumulates per inference.
        pipeline: layers overlap on successive inputs.
        source: "counted" or "analytic".
        chips: chips used.

    """

    energy_J: dict[str, dict[str, float]]
    latency_s: dict[str, float]
    area_m2: dict[str, float]
    macs: float
    pipeline: bool
    source: str
    chips: int

    @property
    def total_energy_J(self) -> float:
        """Energy per inference."""
        return sum(sum(c.values()) for c in self.energy_J.values())

    def component_energy_J(self) -> dict[str, float]:
        """Energy per component, summed over layers."""
        return {k: sum(c.get(k, 0.0) for c in self.energy_J.values()) for k in COMPONENTS}

    @property
    def total_latency_s(self) -> float:
        """Latency of one inference (layers one after another)."""
        return sum(self.latency_s.values())

    @property
    def throughput_per_s(self) -> float:
        """Inferences per second (pipelined: the slowest layer sets it)."""
        slowest = max(self.latency_s.values(), default=0.0)
        t = slowest if self.pipeline else self.total_latency_s
        return 1.0 / t if t > 0 else math.inf

    @property
    def total_area_m2(self) -> float:
        """Silicon area of the chips used."""
        return sum(self.area_m2.values())

    def metrics(self) -> dict[str, float]:
        """Energy, latency, throughput, TOPS, TOPS/W, TOPS/mm^2, EDP (2 ops per MAC)."""
        ops = 2 * self.macs
        e, t = self.total_energy_J, self.total_latency_s
        tops = ops * self.throughput_per_s / 1e12
        return {
            "energy_per_inference_J": e,
            "latency_s": t,
            "throughput_inferences_per_s": self.throughput_per_s,
            "macs_per_inference": self.macs,
            "energy_per_mac_J": e / self.macs if self.macs else 0.0,
            "tops": tops,
            "tops_per_w": ops / e / 1e12 if e else 0.0,
            "tops_per_mm2": tops / (self.total_area_m2 * 1e6) if self.total_area_m2 else 0.0,
            "area_mm2": self.total_area_m2 * 1e6,
            "edp_J_s": e * t,
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "source": self.source,
            "chips": self.chips,
            "metrics": self.metrics(),
            "components_J": self.component_energy_J(),
            "layers": [
                {"layer": n, "latency_s": self.latency_s[n], "energy_J": sum(c.values()), **c}
                for n, c in self.energy_J.items()
            ],
            "area_mm2": {k: v * 1e6 for k, v in self.area_m2.items()},
        }


def _core_xy(site_index: int, cores: int) -> tuple[int, int]:
    side = math.ceil(math.sqrt(cores))
    return site_index % side, site_index // side


def _distance_m(a: LayerWork, b: LayerWork, pitch_m: float, cores: int) -> tuple[float, bool]:
    """Mean Manhattan distance between two layers' cores, and whether it crosses chips."""
    if not a.sites or not b.sites:
        return pitch_m, False
    pa = [_core_xy(s.core, cores) for s in a.sites]
    pb = [_core_xy(s.core, cores) for s in b.sites]
    ax, ay = sum(p[0] for p in pa) / len(pa), sum(p[1] for p in pa) / len(pa)
    bx, by = sum(p[0] for p in pb) / len(pb), sum(p[1] for p in pb) / len(pb)
    crosses = {s.chip for s in a.sites} != {s.chip for s in b.sites}
    return max(1.0, abs(ax - bx) + abs(ay - by)) * pitch_m, crosses


def digital_mac_J(node: NodeParams, cfg: Config) -> float:
    """One 8-bit MAC of a digital engine with its weight read from SRAM."""
    return node.mult8_J + node.add_energy_J(cfg.cost.accumulator_bits) + 8 * node.sram_J_per_bit


def price(work: Workload) -> CostReport:
    """Turn a workload into energy, latency and area (see the module docstring)."""
    cfg = work.config
    cc = CircuitCosts.of(cfg)
    node, bits = cc.node, cfg.cost.act_bits
    core_pitch = math.sqrt(cc.core_area_m2)
    wire_J_per_bit_m = 0.5 * node.wire_cap_F_per_m * node.vdd_V**2
    energy: dict[str, dict[str, float]] = {}
    latency: dict[str, float] = {}
    transfers = work_transfers(work)
    n_chips = max(1, work.placement.n_chips)
    for k, layer in enumerate(work.layers):
        e = dict.fromkeys(COMPONENTS, 0.0)
        e["buffer"] = (layer.input_elements + layer.output_elements) * bits * node.sram_J_per_bit
        e["activation"] = layer.output_elements * node.add_energy_J(bits)
        if not layer.analog:
            e["digital_layers"] = layer.macs * digital_mac_J(node, cfg)
            latency[layer.name] = layer.macs / (cfg.cost.digital_mac_units * cfg.cost.clock_Hz)
        else:
            e["cell"] = layer.total("cell_energy_J")
            e["wires"] = layer.total("wire_energy_J")
            e["wordline"] = layer.total("read_pulses") * cc.row_pulse_J
            if cfg.cost.wl_switching == "every_plane":  # every word line toggles, pulsed or not
                e["wordline"] += (layer.total("dac_conversions") - layer.total("read_pulses")) * cc.wl_toggle_J
            phys_cols = (layer.grid.cells_per_weight_col if layer.grid else 1) * layer.total("adc_conversions")
            e["bitline"] = phys_cols * cc.bitline_J
            e["adc"] = layer.total("adc_conversions") * cc.conversion_J
            e["integrator"] = layer.total("integrations") * cc.sample_J
            e["shift_add"] = layer.total("shift_adds") * cc.add_J
            e["psum"] = layer.total("psum_adds") * cc.add_J
            e["interconnect"] = layer.total("psum_adds") * cfg.cost.accumulator_bits * core_pitch * wire_J_per_bit_m
            nxt = work.layers[k + 1] if k + 1 < len(work.layers) else None
            if nxt is not None:
                dist, crosses = _distance_m(layer, nxt, core_pitch, cfg.chip.cores)
                if not crosses:  # across chips: the links below
                    e["interconnect"] += layer.output_elements * bits * dist * wire_J_per_bit_m
            # every tile has its own core, so a layer takes one tile's timesteps and conversions in turn
            rounds = math.ceil(max(_tile_cols(layer)) / cc.adcs_per_core)
            first = layer.events[0]
            latency[layer.name] = (first["mvms"] * cc.t_plane_s + first["timesteps"] * cc.t_sample_s
                                   + first["slices"] * rounds * cc.t_conversion_s)  # fmt: skip
            e["links"], t_links = _link_costs(transfers.get(layer.name, []), layer.positions, n_chips, cfg, node)
            latency[layer.name] += t_links
        if k == 0:
            e["dram"] += layer.input_elements * bits * node.dram_J_per_bit
        if k == len(work.layers) - 1:
            e["dram"] += layer.output_elements * bits * node.dram_J_per_bit
        energy[layer.name] = e
    chips = max(1, work.placement.n_chips)
    parts = {f"core {p}": v * cfg.chip.cores * chips for p, v in cc.core_area_parts_m2.items()}
    parts["buffer"] = cfg.cost.buffer_kB * 8192 * node.sram_bit_area_m2 * chips
    parts["interconnect"] = 0.1 * sum(parts.values())  # router and wiring overhead, ~10 % (ours)
    macs = sum(layer.macs for layer in work.layers)
    return CostReport(energy, latency, parts, macs, cfg.cost.pipeline, work.source, chips)


def work_transfers(work: Workload) -> dict[str, list[Transfer]]:
    """The chip-to-chip transfers of every analog layer per input vector (``reram.mapping.traffic``)."""
    if work.placement.n_chips <= 1:
        return {}
    chain = [(w.name, w.grid, w.sites) for w in work.layers if w.analog and w.grid is not None and w.sites]
    return network_transfers(chain, work.config.cost.act_bits, work.config.cost.accumulator_bits)


def link_J_per_bit(cfg: Config, node: NodeParams) -> float:
    """Energy of one bit over one chip-to-chip hop (joules): the chip's setting, else the node's."""
    pj = cfg.chip.link_pJ_per_bit
    return node.chip_link_J_per_bit if pj is None else pj * 1e-12


def _link_costs(
    transfers: list[Transfer], positions: float, n_chips: int, cfg: Config, node: NodeParams
) -> tuple[float, float]:
    """(joules, seconds) of one layer's transfers over ``positions`` input vectors."""
    if not transfers:
        return 0.0, 0.0
    per_bit = link_J_per_bit(cfg, node)
    topo = cfg.chip.topology
    joules = sum(t.bits * hops(t.src, t.dst, n_chips, topo) for t in transfers) * positions * per_bit
    seconds = 0.0
    for kind in ("inputs", "partial_sums"):
        mine = [t for t in transfers if t.kind == kind]
        if mine:
            seconds += max(hops(t.src, t.dst, n_chips, topo) * cfg.chip.link_latency_ns * 1e-9
                           + t.bits * positions / (cfg.chip.link_Gbps * 1e9) for t in mine)  # fmt: skip
    return joules, seconds


def _tile_cols(layer: LayerWork) -> list[int]:
    """Columns converted per plane in each tile (one per weight column)."""
    assert layer.grid is not None
    return [cols for _r, _c, _rows, cols in layer.grid.tiles()]


def peak(cfg: Config, pulse_density: float = 0.5, g_mean_S: float | None = None) -> dict[str, float]:
    """Core-level figures of one MVM on a full array (every cell holding a weight).

    The scope of published macro figures (array, drivers, ADCs/neurons, shift-add); inputs are
    non-negative (one phase) with ``pulse_density`` of the row slots pulsed; cells at
    ``g_mean_S`` (default: the middle of the window).

    Returns:
        {"energy_per_mac_J", "tops_per_w", "latency_per_mvm_s", "tops" (one core), and the
        per-component energies per MAC}.

    """
    cc = CircuitCosts.of(cfg)
    arr, dac, dev = cfg.array, cfg.periphery.dac, cfg.device
    g = (dev.g_min_S + dev.g_max_S) / 2 if g_mean_S is None else g_mean_S
    planes, conv, steps = plane_counts(dac)
    v2 = 1.0 if dac.bit_serial else 1.0 / 3.0
    macs = arr.weight_rows * arr.weight_cols
    slots = arr.rows * planes
    per = {
        "cell": slots * pulse_density * v2 * arr.v_read_V * dev.drive_V(arr.v_read_V) * g * arr.cols * arr.t_pulse_s,
        "wordline": slots * pulse_density * cc.row_pulse_J
        + (slots * (1 - pulse_density) * cc.wl_toggle_J if cfg.cost.wl_switching == "every_plane" else 0.0),
        "bitline": arr.cols * conv * cc.bitline_J,
        "adc": arr.weight_cols * conv * cc.conversion_J,
        "integrator": arr.weight_cols * steps * cc.sample_J,
        "shift_add": arr.weight_cols * (conv - 1) * cc.add_J,
    }
    energy = sum(per.values())
    rounds = math.ceil(arr.weight_cols / cc.adcs_per_core)
    t = planes * cc.t_plane_s + steps * cc.t_sample_s + conv * rounds * cc.t_conversion_s
    out = {f"{k}_J_per_mac": v / macs for k, v in per.items()}
    out.update({
        "energy_per_mac_J": energy / macs,
        "tops_per_w": 2 * macs / energy / 1e12,
        "latency_per_mvm_s": t,
        "tops_per_core": 2 * macs / t / 1e12,
        "tops_chip": 2 * macs / t / 1e12 * cfg.chip.cores,
    })  # fmt: skip
    return out
