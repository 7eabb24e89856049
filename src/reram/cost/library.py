"""The component library: per-technology-node constants, stored as data with their sources.

Each ``reram/cost/nodes/n<nm>.toml`` holds one node; every entry is ``{value, source}``. A node
between two tables is interpolated in log(node) (energies and areas scale smoothly with feature
size); outside the tables it is an error that lists what is available.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources

import tomllib

from reram.config import ConfigError


@dataclass(frozen=True)
class NodeParams:
    """Constants of one technology node (SI units: joules, farads, metres, seconds, volts).

    Attributes:
        node_nm: feature size F (nanometres).
        vdd_V: digital supply.
        wire_cap_F_per_m: on-chip wire capacitance per metre.
        add_J_per_bit: one full-adder bit of a ripple add.
        mult8_J: one 8x8-bit multiply.
        sram_J_per_bit: SRAM buffer access per bit.
        sram_bit_area_m2: SRAM area per bit, array periphery included.
        dram_J_per_bit: off-chip DRAM access per bit.
        dram_bandwidth_B_per_s: DRAM bandwidth (bytes per second) of the digital baseline.
        chip_link_J_per_bit: chip-to-chip link per bit.
        reram_read_J_per_bit: digital read of one stored ReRAM bit (digital-ReRAM baseline).
        reram_t_read_s: digital ReRAM read access time.
        adc_fom_J_per_step: Walden figure of merit (J per conversion step).
        adc_fom_schreier_dB: Schreier figure of merit (the thermal-noise limit at high bits).
        adc_area_m2_per_step: ADC area per conversion step (capacitor DAC ~ 2**bits).
        comparator_J: one comparator decision.
        driver_area_m2: one row or column driver.
        mac8_area_m2: one 8-bit MAC unit of the digital baseline.
        sources: where each value comes from.

    """

    node_nm: float
    vdd_V: float
    wire_cap_F_per_m: float
    add_J_per_bit: float
    mult8_J: float
    sram_J_per_bit: float
    sram_bit_area_m2: float
    dram_J_per_bit: float
    dram_bandwidth_B_per_s: float
    chip_link_J_per_bit: float
    reram_read_J_per_bit: float
    reram_t_read_s: float
    adc_fom_J_per_step: float
    adc_fom_schreier_dB: float
    adc_area_m2_per_step: float
    comparator_J: float
    driver_area_m2: float
    mac8_area_m2: float
    sources: tuple[tuple[str, str], ...] = ()

    def adc_energy_J(self, bits: float) -> float:
        """Energy of one conversion at ``bits`` effective bits: Walden term FOM_W 2**bits plus the thermal
        limit of the Schreier FOM, 2**-1 10**((6.02 bits + 1.76 - FOM_S) / 10) (Murmann survey).
        """
        thermal = 0.5 * 10 ** ((6.02 * bits + 1.76 - self.adc_fom_schreier_dB) / 10)
        return self.adc_fom_J_per_step * 2**bits + thermal

    def add_energy_J(self, bits: int) -> float:
        """One ``bits``-wide addition."""
        return self.add_J_per_bit * bits


def available_nodes() -> list[int]:
    """Technology nodes with a table (nanometres)."""
    files = resources.files("reram.cost").joinpath("nodes").iterdir()
    return sorted(int(p.name[1:-5]) for p in files if p.name.startswith("n") and p.name.endswith(".toml"))


@cache
def _table(node_nm: int) -> NodeParams:
    text = resources.files("reram.cost").joinpath("nodes").joinpath(f"n{node_nm}.toml").read_text()
    raw = tomllib.loads(text)
    values = {k: float(v["value"]) for k, v in raw.items() if isinstance(v, dict)}
    sources = tuple((k, str(v["source"])) for k, v in raw.items() if isinstance(v, dict))
    return NodeParams(node_nm=float(raw["node_nm"]), sources=sources, **values)


def node_params(node_nm: float) -> NodeParams:
    """The constants of a node: a table, or log-interpolated between the two nearest tables.

    Raises:
        ConfigError: ``node_nm`` lies outside the tables.

    """
    nodes = available_nodes()
    if node_nm in nodes:
        return _table(int(node_nm))
    if not nodes[0] < node_nm < nodes[-1]:
        raise ConfigError(
            f"chip.node_nm = {node_nm!r} has no component table: allowed is a node in "
            f"[{nodes[0]}, {nodes[-1]}] nm (tables at {', '.join(map(str, nodes))} nm)"
        )
    lo = max(n for n in nodes if n < node_nm)
    hi = min(n for n in nodes if n > node_nm)
    a, b = _table(lo), _table(hi)
    w = (math.log(node_nm) - math.log(lo)) / (math.log(hi) - math.log(lo))
    vals = {}
    for f in fields(NodeParams):
        if f.name in ("sources", "node_nm"):
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        vals[f.name] = (
            x + (y - x) * w
            if f.name == "adc_fom_schreier_dB"
            else math.exp(math.log(x) + (math.log(y) - math.log(x)) * w)
        )
    src = tuple((k, f"interpolated between {lo} and {hi} nm: {s}") for k, s in a.sources)
    return NodeParams(node_nm=float(node_nm), sources=src, **vals)
