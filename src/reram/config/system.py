"""The simulated system: frozen nested dataclasses (device, array, periphery, chip, cost).

SI units inside (siemens, volts, seconds, kelvin); field names carry the unit where a reader
could doubt it (``g_max_S``, ``v_read_V``). Every numeric field declares its physical range
(``reram.config.check.num``); construction checks type, finiteness and range of every field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import tomli_w

from reram.config.check import check, choice, fail, num
from reram.config.cost import CostConfig
from reram.config.periphery import PeripheryConfig

# NeuRRAM relaxation fits (Wan et al., Nature 2022, authors' repository): sigma(g) in uS,
# x = g / 40 uS, at 1 s, 1 day and 2 days after write-verify. Polynomial coefficients c0..c4.
NEURRAM_RELAX_TIMES_S = (1.0, 86400.0, 172800.0)
NEURRAM_RELAX_POLY_uS = (
    (0.348, 16.030, -43.853, 45.393, -16.815),
    (0.701, 22.086, -50.773, 47.095, -16.458),
    (0.782, 20.274, -43.507, 37.062, -11.934),
)


@dataclass(frozen=True)
class UpdateConfig:
    """How a cell responds to programming pulses during on-chip training (``device.update``).

    The state is the normalised conductance u = (g - g_min) / (g_max - g_min). Each pulse moves u by
    a step that may depend on u (see ``reram.device.update``):

    - "linear": a constant step 1 / pulses_up up and 1 / pulses_down down, hard bounds;
    - "soft_bounds": the step shrinks linearly towards the bound it approaches (step at the far
      bound 1 / pulses_*);
    - "exponential": the measured potentiation/depression curves u(P) = B (1 - exp(-nl P / P_max))
      of the NeuroSim device model (Chen et al., IEEE TCAD 2018): nl = 0 is linear, larger is more
      nonlinear; P_max = pulses_up or pulses_down pulses cross the whole window.

    Attributes:
        model: "linear", "soft_bounds" or "exponential".
        pulses_up, pulses_down: pulses that cross the window upwards (SET, potentiation) and
            downwards (RESET, depression); different values = up/down asymmetry.
        nl_up, nl_down: nonlinearity of the exponential model (>= 0, dimensionless).
        c2c_sigma: cycle-to-cycle spread of one pulse's conductance change, as a fraction of the
            window (NeuroSim's convention: n pulses add noise of std c2c_sigma * sqrt(n)).
        d2d_sigma: device-to-device spread of the step sizes (log-normal, relative), per cell.
        endurance_cycles: pulses a cell takes before its window starts to narrow (0 = unlimited).
        endurance_narrowing: fraction of the window lost per decade of pulses beyond that budget.
        v_write_V: amplitude of a full update pulse across a cell (volts); a half-selected cell
            sees v_write_V / 2.
        t_write_s: width of one update pulse (seconds).
        v_threshold_V: switching threshold (volts): a pulse that reaches a cell with v volts
            (less than v_write_V where wire resistance drops some, ``array.ir_drop``) moves it by
            (v - v_threshold_V) / (v_write_V - v_threshold_V) of a full pulse's step, nothing at or
            below the threshold; at least v_write_V / 2, since half-selected cells must not switch
            (a first-order, threshold-linear model of the switching's voltage dependence).

    """

    _section = "device.update"
    model: str = "linear"
    pulses_up: float = num(1000.0, 1, 1e9, "pulses")
    pulses_down: float = num(1000.0, 1, 1e9, "pulses")
    nl_up: float = num(0.0, 0, 100)
    nl_down: float = num(0.0, 0, 100)
    c2c_sigma: float = num(0.0, 0, 1, "of the window")
    d2d_sigma: float = num(0.0, 0, 10)
    endurance_cycles: float = num(0.0, 0, 1e15, "pulses")
    endurance_narrowing: float = num(0.1, 0, 1, "of the window per decade")
    v_write_V: float = num(1.0, 0.01, 20, "V")
    t_write_s: float = num(10e-9, 1e-12, 1, "s")
    v_threshold_V: float = num(0.5, 0, 20, "V")

    def __post_init__(self) -> None:
        check(self)
        choice(self, "model", ("linear", "soft_bounds", "exponential"))
        if not self.v_write_V / 2 <= self.v_threshold_V < self.v_write_V:
            fail("device.update.v_threshold_V", self.v_threshold_V,
                 f"volts in [v_write_V / 2, v_write_V) = [{self.v_write_V / 2:g}, {self.v_write_V:g})")  # fmt: skip

    @property
    def nominal_pulses(self) -> float:
        """Pulses across the window of a nominal (linear) pulse, the harmonic mean of up and down."""
        return 2 / (1 / self.pulses_up + 1 / self.pulses_down)


@dataclass(frozen=True)
class DeviceConfig:
    """One ReRAM cell technology.

    Attributes:
        g_min_S, g_max_S: programmable conductance window (siemens).
        levels: distinct programmable conductance levels per cell; 0 = continuous.
        program_mode: "exact" (target reached exactly), "gaussian" (target + N(0, program_sigma_S)),
            or "write_verify" (iterative pulse-and-verify loop to +-wv_tolerance_S).
        program_sigma_S: programming error std for "gaussian" (siemens).
        wv_tolerance_S: half-width of the write-verify acceptance band (siemens).
        wv_max_iterations: pulse/verify iterations before a cell is declared failed.
        wv_step_gain: mean fraction of the verified error that one pulse corrects.
        wv_step_spread: log-normal spread of the pulse response (multiplicative, dimensionless).
        wv_c2c_sigma_S: additive cycle-to-cycle noise of one pulse (siemens).
        read_noise_rel: read-noise std per cell per read: a fraction of g_max_S
            (``read_noise_model = "constant"``) or of the cell's own conductance ("physical":
            the measured 1/f and random-telegraph fluctuation, proportional to G).
        read_noise_model: "constant" (the first model: the same std in siemens on every cell,
            whatever the read voltage and time) or "physical" (current-referred: that
            fluctuation, thermal 4kTG df and shot 2q|I| df of every cell over the read's noise
            bandwidth df = 1 / (2 t_pulse) at the read temperature; see ``reram.array.noise``).
        relax_times_s / relax_poly_uS: spread of conductance around target sigma(g, t) (uS),
            polynomial in x = g / relax_x_ref_S at each listed time; empty = no relaxation.
        relax_x_ref_S: normalising conductance of the relaxation polynomials (siemens).
        tcr_low_per_K, tcr_high_per_K: temperature coefficient of a cell's conductance at read,
            for a cell at g_min_S (high-resistance state: semiconducting, > 0) and at g_max_S
            (filamentary, metallic: < 0), linear in g between; a cell programmed at t_ref_K and
            read at T conducts g (1 + tcr(g) (T - t_ref_K)), so the window narrows when hot.
        relax_center_S, relax_tau_s, relax_alpha: mean drift toward relax_center_S (siemens):
            E[g(t)] = g0 + f(t) (center - g0), f(t) = 1 - (1 + t / tau) ** -alpha (alpha = 0: none).
        activation_energy_eV: Arrhenius activation energy of relaxation (eV).
        t_ref_K: temperature at which the relaxation fits were measured (kelvin).
        stuck_low_rate / stuck_high_rate: fraction of cells stuck at g_min / g_max (of the
            lines or arrays that fail whole, with a clustered ``stuck_pattern``).
        stuck_pattern: how stuck cells cluster: "cells" (independently), "rows" (whole physical
            rows of an array: a broken word line), "columns" (whole physical columns: a broken
            bit line) or "arrays" (every cell of an array: a dead core); see ``reram.device.faults``.
        d2d_window_sigma: relative device-to-device spread of each cell's window ends.
        read_disturb_per_decade: fraction of its way to the window's edge a cell moves per decade
            of read stress beyond the onset (> 0: toward g_max, < 0: toward g_min; 0: no read
            disturb); see ``reram.device.disturb``.
        read_disturb_onset_s: read stress (seconds of pulses at read_disturb_v_ref_V) before any change.
        read_disturb_v_ref_V: read voltage at which the onset is given (volts).
        read_disturb_v0_V: voltage acceleration: the stress of a read grows e-fold per v0 of read
            voltage above v_ref (volts).
        iv_v0_V: the cell's I-V nonlinearity, I = G v0 sinh(V / v0) (volts; 0 = ohmic, I = G V):
            the read current of a cell at row voltage V (``reram.core``: the drive, the floating
            bit line's settling, the read noise and the cell energy all follow it). Only with
            ideal wires (``array.ir_drop = "off"``): the wired solves are linear.
        update: the response to update pulses (on-chip training).

    """

    _section = "device"
    g_min_S: float = num(1e-6, 0, 0.01, "S")
    g_max_S: float = num(40e-6, 1e-9, 0.01, "S")
    levels: int = num(0, 0, 65536, "levels")
    program_mode: str = "exact"
    program_sigma_S: float = num(0.0, 0, 0.01, "S")
    wv_tolerance_S: float = num(1e-6, 1e-12, 0.01, "S")
    wv_max_iterations: int = num(50, 1, 100000, "iterations")
    wv_step_gain: float = num(0.6, 0, 2, "(above 2 the loop diverges)", open_lo=True)
    wv_step_spread: float = num(0.3, 0, 10)
    wv_c2c_sigma_S: float = num(0.2e-6, 0, 0.01, "S")
    read_noise_rel: float = num(0.0, 0, 1, "of g_max_S, or of G")
    read_noise_model: str = "constant"
    relax_times_s: tuple[float, ...] = num((), 0, 1e10, "s", open_lo=True)
    relax_poly_uS: tuple[tuple[float, ...], ...] = ()
    relax_x_ref_S: float = num(40e-6, 1e-9, 0.01, "S")
    tcr_low_per_K: float = num(0.0, -0.05, 0.05, "1/K")
    tcr_high_per_K: float = num(0.0, -0.05, 0.05, "1/K")
    relax_center_S: float = num(0.0, 0, 0.01, "S")
    relax_tau_s: float = num(1.0, 1e-6, 1e10, "s")
    relax_alpha: float = num(0.0, 0, 1)
    activation_energy_eV: float = num(1.2, 0.01, 10, "eV")
    t_ref_K: float = num(300.0, 1, 1000, "K")
    stuck_low_rate: float = num(0.0, 0, 1, "(a fraction of the cells)")
    stuck_high_rate: float = num(0.0, 0, 1, "(a fraction of the cells)")
    stuck_pattern: str = "cells"
    d2d_window_sigma: float = num(0.0, 0, 1)
    read_disturb_per_decade: float = num(0.0, -1, 1, "of the remaining window per decade of stress")
    read_disturb_onset_s: float = num(1e-3, 1e-15, 1e10, "s", open_lo=True)
    read_disturb_v_ref_V: float = num(0.2, 0, 10, "V")
    read_disturb_v0_V: float = num(0.05, 1e-3, 10, "V")
    iv_v0_V: float = num(0.0, 0, 100, "V (0 = ohmic)")
    update: UpdateConfig = field(default_factory=UpdateConfig)

    def __post_init__(self) -> None:
        check(self)
        if not self.g_max_S > self.g_min_S:
            fail("device.g_max_S", self.g_max_S, f"a conductance > g_min_S ({self.g_min_S!r} S)")
        if self.levels == 1:
            fail("device.levels", self.levels, "0 (continuous) or an integer in [2, 65536]")
        choice(self, "program_mode", ("exact", "gaussian", "write_verify"))
        choice(self, "read_noise_model", ("constant", "physical"))
        choice(self, "stuck_pattern", ("cells", "rows", "columns", "arrays"))
        if self.stuck_low_rate + self.stuck_high_rate > 1:
            fail("device.stuck_high_rate", self.stuck_high_rate, "stuck_low_rate + stuck_high_rate <= 1")
        if len(self.relax_times_s) != len(self.relax_poly_uS):
            fail("device.relax_poly_uS", self.relax_poly_uS, "one polynomial per entry of relax_times_s")
        if list(self.relax_times_s) != sorted(set(self.relax_times_s)):
            fail("device.relax_times_s", self.relax_times_s, "strictly increasing times > 0 seconds")
        for poly in self.relax_poly_uS:
            if not poly or not all(isinstance(c, float) and math.isfinite(c) for c in poly):
                fail("device.relax_poly_uS", self.relax_poly_uS, "lists of finite polynomial coefficients (uS)")

    def drive_V(self, v_V: float) -> float:
        """The ohmic-equivalent drive of a cell at ``v_V`` volts: I / G = v0 sinh(V / v0), or V
        for ohmic cells (the periphery's full-scale gain assumes the full-scale pulse's).
        """
        v0 = self.iv_v0_V
        return v_V if v0 == 0 else v0 * math.sinh(v_V / v0)

    @property
    def read_sigma_S(self) -> float:
        """Read-noise std of one cell per read (siemens)."""
        return self.read_noise_rel * self.g_max_S


@dataclass(frozen=True)
class ArrayConfig:
    """One crossbar: its size, how signed weights become conductances, and its read voltage.

    Attributes:
        rows, cols: cells per crossbar (a core's array).
        differential: "rows" (G+ and G- on two rows driven with +V and -V, NeuRRAM) or "columns"
            (G+ and G- on two columns subtracted before the ADC).
        scale: "tile" (one weight-to-conductance scale per tile) or "column" (one per column).
        clip_percentile: |W| percentile mapped to g_max (NeuRRAM: 95); larger weights are clipped.
        v_read_V: read voltage of a full-scale input pulse (volts).
        t_pulse_s: width of one input pulse (seconds); read by the cost model (latency, cell energy).
        ir_drop: "off" (ideal wires), "exact" (the resistor network of every tile solved once
            when it is programmed or aged, folded into an effective matrix; see array/circuit.py)
            or "approx" (first-order closed-form correction: cheap and differentiable, error
            about the square of the relative drop; current sensing).
        r_wire_ohm: resistance of one row (word/source-line) wire segment between neighbouring
            cells, and of a column segment unless ``r_col_ohm`` is given (ohms).
        r_col_ohm: resistance of one column (bit-line) segment (ohms); None = ``r_wire_ohm``.
        r_source_ohm: each row driver's output resistance, in series with its line (ohms).
        r_sense_ohm: each sense amplifier's input resistance, in series with its column (ohms).
        r_access_ohm: access-transistor on-resistance in series with every cell (ohms).
        spare_rows: spare weight rows per array: a row with a cell that fails the verify read is
            written again onto a spare (``reram.array.repair``); the spares add cell area.
        spare_cols: spare weight columns per array (redundant columns): a column with a failed
            cell is written again onto a spare, after the spare rows had their turn.
        pair_repair: re-program a stuck cell's differential partner to keep the pair's difference.

    """

    _section = "array"
    rows: int = num(256, 2, 65536, "cells")
    cols: int = num(256, 2, 65536, "cells")
    differential: str = "rows"
    scale: str = "tile"
    clip_percentile: float = num(100.0, 50, 100, "percent")
    v_read_V: float = num(0.2, 1e-3, 5, "V")
    t_pulse_s: float = num(10e-9, 1e-12, 1e-3, "s")
    ir_drop: str = "off"
    r_wire_ohm: float = num(1.0, 0, 1e4, "ohm")
    r_col_ohm: float | None = num(None, 0, 1e4, "ohm")
    r_source_ohm: float = num(0.0, 0, 1e6, "ohm")
    r_sense_ohm: float = num(0.0, 0, 1e6, "ohm")
    r_access_ohm: float = num(0.0, 0, 1e9, "ohm")
    spare_rows: int = num(0, 0, 4096, "rows")
    spare_cols: int = num(0, 0, 4096, "columns")
    pair_repair: bool = False

    def __post_init__(self) -> None:
        check(self)
        if not isinstance(self.pair_repair, bool):
            fail("array.pair_repair", self.pair_repair, "true or false")
        if self.r_source_ohm > 0 and self.r_wire_ohm == 0:
            fail("array.r_source_ohm", self.r_source_ohm, "0 unless array.r_wire_ohm > 0 (the solver's row lines)")
        if self.r_sense_ohm > 0 and self.r_bitline_ohm == 0:
            fail("array.r_sense_ohm", self.r_sense_ohm, "0 unless the column segments have resistance > 0")
        choice(self, "ir_drop", ("off", "approx", "exact"))
        choice(self, "differential", ("rows", "columns"))
        choice(self, "scale", ("tile", "column"))

    @property
    def r_bitline_ohm(self) -> float:
        """Resistance of one column segment (ohms)."""
        return self.r_wire_ohm if self.r_col_ohm is None else self.r_col_ohm

    @property
    def has_wires(self) -> bool:
        """Whether any series resistance is configured (lines, driver, sense input, access device)."""
        return any(r > 0 for r in (self.r_wire_ohm, self.r_bitline_ohm, self.r_source_ohm, self.r_sense_ohm,
                                   self.r_access_ohm))  # fmt: skip

    @property
    def weight_rows(self) -> int:
        """Weight rows (inputs) one array holds."""
        return self.rows // 2 if self.differential == "rows" else self.rows

    @property
    def weight_cols(self) -> int:
        """Weight columns (outputs) one array holds."""
        return self.cols // 2 if self.differential == "columns" else self.cols


@dataclass(frozen=True)
class ChipConfig:
    """A chip, and the system of chips a large model spills onto.

    Attributes:
        cores: cores (arrays with periphery) per chip.
        max_chips: chips a model may occupy; a model needing more fails to map.
        node_nm: technology node (nanometres); informs the cost model.
        partition: how a model needing several chips is cut (``reram.mapping.placement``):
            "pipeline" (layers in order, chip after chip: each chip a pipeline stage, a layer
            split only where a chip fills up) or "tensor" (every layer's tiles dealt out over
            all the chips: each chip holds a share of every matrix).
        topology: how the chips are linked: "mesh" (a square grid numbered row by row in a
            snake, so that chips k and k + 1 are neighbours, each linked to its four; as Simba's
            package) or "ring" (each linked to its two neighbours); a transfer takes the fewest hops.
        link_Gbps: bandwidth of a chip-to-chip link, each direction (gigabits per second).
        link_latency_ns: latency of one hop over a link (nanoseconds).
        link_pJ_per_bit: energy of moving one bit over one hop (picojoules); None = the node's
            ``chip_link_J_per_bit`` (``reram/cost/nodes``, from wireline surveys).
            The bandwidth and latency defaults follow Simba's package links (Shao et al., MICRO
            2019: ground-referenced signalling at 0.82-1.75 pJ/bit, 100 Gb/s per chiplet port,
            about 20 ns per hop); assumed, not measured for a ReRAM system.

    """

    _section = "chip"
    cores: int = num(48, 1, 1_000_000, "cores")
    max_chips: int = num(64, 1, 100_000, "chips")
    node_nm: int = num(130, 1, 1000, "nm")
    partition: str = "pipeline"
    topology: str = "mesh"
    link_Gbps: float = num(100.0, 1e-3, 1e6, "Gb/s")
    link_latency_ns: float = num(20.0, 0, 1e6, "ns")
    link_pJ_per_bit: float | None = num(None, 0, 1e4, "pJ/bit")

    def __post_init__(self) -> None:
        check(self)
        choice(self, "partition", ("pipeline", "tensor"))
        choice(self, "topology", ("mesh", "ring"))


@dataclass(frozen=True)
class Config:
    """The whole simulated system. ``seed`` makes every run reproducible."""

    _section = ""
    name: str = "custom"
    seed: int = num(0, 0, 2**63 - 1)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    array: ArrayConfig = field(default_factory=ArrayConfig)
    periphery: PeripheryConfig = field(default_factory=PeripheryConfig)
    chip: ChipConfig = field(default_factory=ChipConfig)
    cost: CostConfig = field(default_factory=CostConfig)

    def __post_init__(self) -> None:
        check(self)
        if self.array.ir_drop == "approx" and self.periphery.adc.sensing == "voltage":
            fail("array.ir_drop", "approx", '"off" or "exact" with periphery.adc.sensing = "voltage"')
        if self.device.iv_v0_V and self.array.ir_drop != "off":
            fail("array.ir_drop", self.array.ir_drop, '"off" with nonlinear cells (device.iv_v0_V > 0): the wired '
                 "solves are linear; or device.iv_v0_V = 0")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (TOML/JSON-ready)."""
        return _to_dict(self)

    def to_toml(self) -> str:
        """The config as TOML text; ``load_config`` reads it back."""
        return tomli_w.dumps(self.to_dict())


def _to_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if is_dataclass(v):
            out[f.name] = _to_dict(v)
        elif isinstance(v, tuple):
            out[f.name] = [list(x) if isinstance(x, tuple) else x for x in v]
        elif v is not None:  # TOML has no null: an absent key reads back as the default, None
            out[f.name] = v
    return out
