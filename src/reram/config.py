"""Configuration: frozen nested dataclasses, validated at the boundary, stored as TOML.

SI units inside (siemens, volts, seconds, kelvin); field names carry the unit where a
reader could doubt it (``g_max_S``, ``v_read_V``). Every error names the field, the value
and what is allowed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

import tomli_w
import tomllib

__all__ = [
    "ADCConfig",
    "ArrayConfig",
    "ChipConfig",
    "Config",
    "ConfigError",
    "CostConfig",
    "DACConfig",
    "DeviceConfig",
    "PeripheryConfig",
    "UpdateConfig",
    "available_presets",
    "load_config",
    "override",
    "preset",
]


class ConfigError(ValueError):
    """A configuration value is invalid; the message names field, value and what is allowed."""


def _fail(path: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{path} = {value!r} is invalid: allowed is {allowed}")


def _positive(obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        if not v > 0:
            _fail(f"{obj._section}.{n}", v, "a number > 0")


def _non_negative(obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        if not v >= 0:
            _fail(f"{obj._section}.{n}", v, "a number >= 0")


def _fraction(obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        if not 0 <= v <= 1:
            _fail(f"{obj._section}.{n}", v, "a fraction in [0, 1]")


def _choice(obj: Any, name: str, allowed: tuple[str, ...]) -> None:
    v = getattr(obj, name)
    if v not in allowed:
        _fail(f"{obj._section}.{name}", v, "one of " + ", ".join(repr(a) for a in allowed))


def _bits(obj: Any, name: str, lo: int = 1, hi: int = 24) -> None:
    v = getattr(obj, name)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        _fail(f"{obj._section}.{name}", v, f"an integer number of bits in [{lo}, {hi}]")


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
    pulses_up: float = 1000.0
    pulses_down: float = 1000.0
    nl_up: float = 0.0
    nl_down: float = 0.0
    c2c_sigma: float = 0.0
    d2d_sigma: float = 0.0
    endurance_cycles: float = 0.0
    endurance_narrowing: float = 0.1
    v_write_V: float = 1.0
    t_write_s: float = 10e-9
    v_threshold_V: float = 0.5

    def __post_init__(self) -> None:
        _choice(self, "model", ("linear", "soft_bounds", "exponential"))
        for n in ("pulses_up", "pulses_down"):
            if not getattr(self, n) >= 1:
                _fail(f"device.update.{n}", getattr(self, n), "a number of pulses >= 1")
        _non_negative(self, "nl_up", "nl_down", "c2c_sigma", "d2d_sigma", "endurance_cycles")
        _fraction(self, "endurance_narrowing")
        _positive(self, "v_write_V", "t_write_s")
        if not self.v_write_V / 2 <= self.v_threshold_V < self.v_write_V:
            _fail("device.update.v_threshold_V", self.v_threshold_V,
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
        read_noise_rel: read-noise std per cell per read, as a fraction of g_max_S.
        relax_times_s / relax_poly_uS: spread of conductance around target sigma(g, t) (uS),
            polynomial in x = g / relax_x_ref_S at each listed time; empty = no relaxation.
        relax_x_ref_S: normalising conductance of the relaxation polynomials (siemens).
        activation_energy_eV: Arrhenius activation energy of relaxation (eV).
        t_ref_K: temperature at which the relaxation fits were measured (kelvin).
        stuck_low_rate / stuck_high_rate: fraction of cells stuck at g_min / g_max.
        d2d_window_sigma: relative device-to-device spread of each cell's window ends.
        update: the response to update pulses (on-chip training).

    """

    _section = "device"
    g_min_S: float = 1e-6
    g_max_S: float = 40e-6
    levels: int = 0
    program_mode: str = "exact"
    program_sigma_S: float = 0.0
    wv_tolerance_S: float = 1e-6
    wv_max_iterations: int = 50
    wv_step_gain: float = 0.6
    wv_step_spread: float = 0.3
    wv_c2c_sigma_S: float = 0.2e-6
    read_noise_rel: float = 0.0
    relax_times_s: tuple[float, ...] = ()
    relax_poly_uS: tuple[tuple[float, ...], ...] = ()
    relax_x_ref_S: float = 40e-6
    activation_energy_eV: float = 1.2
    t_ref_K: float = 300.0
    stuck_low_rate: float = 0.0
    stuck_high_rate: float = 0.0
    d2d_window_sigma: float = 0.0
    update: UpdateConfig = field(default_factory=UpdateConfig)

    def __post_init__(self) -> None:
        if not self.g_min_S >= 0:
            _fail("device.g_min_S", self.g_min_S, "a conductance >= 0 siemens")
        if not self.g_max_S > self.g_min_S:
            _fail("device.g_max_S", self.g_max_S, f"a conductance > g_min_S ({self.g_min_S!r} S)")
        if self.levels == 1 or not isinstance(self.levels, int) or self.levels < 0:
            _fail("device.levels", self.levels, "0 (continuous) or an integer >= 2")
        _choice(self, "program_mode", ("exact", "gaussian", "write_verify"))
        _non_negative(self, "program_sigma_S", "wv_c2c_sigma_S", "wv_step_spread", "read_noise_rel")
        _non_negative(self, "d2d_window_sigma")
        _positive(self, "wv_tolerance_S", "wv_step_gain", "relax_x_ref_S", "t_ref_K")
        _positive(self, "activation_energy_eV")
        if not (isinstance(self.wv_max_iterations, int) and self.wv_max_iterations >= 1):
            _fail("device.wv_max_iterations", self.wv_max_iterations, "an integer >= 1")
        if self.wv_step_gain > 2:
            _fail("device.wv_step_gain", self.wv_step_gain, "a gain in (0, 2] (above 2 the loop diverges)")
        _fraction(self, "stuck_low_rate", "stuck_high_rate")
        if self.stuck_low_rate + self.stuck_high_rate > 1:
            _fail("device.stuck_high_rate", self.stuck_high_rate, "stuck_low_rate + stuck_high_rate <= 1")
        if len(self.relax_times_s) != len(self.relax_poly_uS):
            _fail("device.relax_poly_uS", self.relax_poly_uS, "one polynomial per entry of relax_times_s")
        if any(not t > 0 for t in self.relax_times_s) or list(self.relax_times_s) != sorted(set(self.relax_times_s)):
            _fail("device.relax_times_s", self.relax_times_s, "strictly increasing times > 0 seconds")

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
        r_wire_ohm: resistance of one row or column wire segment between neighbouring cells (ohms).
        r_access_ohm: access-transistor on-resistance in series with every cell (ohms).

    """

    _section = "array"
    rows: int = 256
    cols: int = 256
    differential: str = "rows"
    scale: str = "tile"
    clip_percentile: float = 100.0
    v_read_V: float = 0.2
    t_pulse_s: float = 10e-9
    ir_drop: str = "off"
    r_wire_ohm: float = 1.0
    r_access_ohm: float = 0.0

    def __post_init__(self) -> None:
        _choice(self, "ir_drop", ("off", "approx", "exact"))
        _non_negative(self, "r_wire_ohm", "r_access_ohm")
        for n in ("rows", "cols"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 2:
                _fail(f"array.{n}", v, "an integer >= 2 cells")
        _choice(self, "differential", ("rows", "columns"))
        _choice(self, "scale", ("tile", "column"))
        if not 50 <= self.clip_percentile <= 100:
            _fail("array.clip_percentile", self.clip_percentile, "a percentile in [50, 100]")
        _positive(self, "v_read_V", "t_pulse_s")

    @property
    def weight_rows(self) -> int:
        """Weight rows (inputs) one array holds."""
        return self.rows // 2 if self.differential == "rows" else self.rows

    @property
    def weight_cols(self) -> int:
        """Weight columns (outputs) one array holds."""
        return self.cols // 2 if self.differential == "columns" else self.cols


@dataclass(frozen=True)
class DACConfig:
    """Input drivers.

    Attributes:
        bits: magnitude bits of an input per phase (signed inputs add a second phase, no bit).
        bit_serial: apply one binary pulse plane per bit, each converted by the ADC and
            shift-added digitally; otherwise one multi-level pulse per input.
        percentile: |x| percentile set as the input full scale at calibration.

    """

    _section = "periphery.dac"
    bits: int = 8
    bit_serial: bool = False
    percentile: float = 99.99

    def __post_init__(self) -> None:
        _bits(self, "bits")
        if not 50 <= self.percentile <= 100:
            _fail("periphery.dac.percentile", self.percentile, "a percentile in [50, 100]")


@dataclass(frozen=True)
class ADCConfig:
    """Output converters (ADC, or NeuRRAM's integrate-and-fire neuron).

    Attributes:
        bits: signed output bits (levels +-(2**(bits-1) - 1)).
        sensing: "current" (column current integrated) or "voltage" (floating bit line settles
            to sum(V G) / sum(G), NeuRRAM).
        range: "column" (full scale per column) or "layer" (one full scale per tile stack).
        percentile: |output| percentile set as full scale at calibration; before calibration the
            full scale is the worst-case bound, so nothing clips.

    """

    _section = "periphery.adc"
    bits: int = 8
    sensing: str = "current"
    range: str = "layer"
    percentile: float = 99.99

    def __post_init__(self) -> None:
        _bits(self, "bits", lo=2)
        _choice(self, "sensing", ("current", "voltage"))
        _choice(self, "range", ("layer", "column"))
        if not 50 <= self.percentile <= 100:
            _fail("periphery.adc.percentile", self.percentile, "a percentile in [50, 100]")


@dataclass(frozen=True)
class PeripheryConfig:
    """DAC and ADC of a core."""

    _section = "periphery"
    dac: DACConfig = field(default_factory=DACConfig)
    adc: ADCConfig = field(default_factory=ADCConfig)


@dataclass(frozen=True)
class ChipConfig:
    """A chip: how many cores, and whether a model may spill onto more chips.

    Attributes:
        cores: cores (arrays with periphery) per chip.
        max_chips: chips a model may occupy; a model needing more fails to map.
        node_nm: technology node (nanometres); informs the cost model.

    """

    _section = "chip"
    cores: int = 48
    max_chips: int = 64
    node_nm: int = 130

    def __post_init__(self) -> None:
        for n in ("cores", "max_chips", "node_nm"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                _fail(f"chip.{n}", v, "an integer >= 1")


@dataclass(frozen=True)
class CostConfig:
    """Circuit choices the cost model needs beyond the array (per-node constants live in
    ``reram/cost/nodes``).

    Attributes:
        cell_area_F2: area of one 1T1R cell in F^2 (sets the line pitch, hence line capacitance).
        wl_voltage_V: word-line swing that turns an access transistor on for a pulse (volts).
        access_gate_F: gate capacitance of one access transistor on a word line (farads).
        adc: "sar" (successive approximation, ``bits`` clock cycles) or "integrate_fire"
            (NeuRRAM's neuron: integrate, then count charge-decrement steps, up to 2**(bits-1)).
        neuron_cap_F: charge-decrement capacitor of an integrate-and-fire neuron (farads).
        cols_per_adc: columns sharing one ADC/neuron through a multiplexer (serialises conversions).
        clock_Hz: periphery and digital clock (ADC steps, shift-add, buffers).
        act_bits: bits of an activation in buffers and on the interconnect.
        accumulator_bits: width of the shift-add and partial-sum adders.
        buffer_kB: on-chip SRAM buffer per chip (kilobytes).
        pipeline: layers on different cores work on successive inputs at once (throughput =
            1 / slowest layer); otherwise one input at a time.
        digital_mac_units: 8-bit MAC units of the digital baselines (their parallelism).
        digital_sram_kB: weight SRAM of the digital SRAM baseline; larger models stream weights
            from DRAM every inference.
        digital_reram_sense_share: bit lines per sense amplifier of the digital-ReRAM baseline.

    """

    _section = "cost"
    cell_area_F2: float = 60.0
    wl_voltage_V: float = 1.2
    access_gate_F: float = 0.5e-15
    adc: str = "sar"
    neuron_cap_F: float = 20e-15
    cols_per_adc: int = 1
    clock_Hz: float = 1e9
    act_bits: int = 8
    accumulator_bits: int = 16
    buffer_kB: float = 256.0
    pipeline: bool = True
    digital_mac_units: int = 256
    digital_sram_kB: float = 2048.0
    digital_reram_sense_share: int = 8

    def __post_init__(self) -> None:
        _positive(self, "cell_area_F2", "wl_voltage_V", "access_gate_F", "neuron_cap_F", "clock_Hz", "buffer_kB")
        _positive(self, "digital_sram_kB")
        _choice(self, "adc", ("sar", "integrate_fire"))
        for n in ("cols_per_adc", "digital_mac_units", "digital_reram_sense_share"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                _fail(f"cost.{n}", v, "an integer >= 1")
        _bits(self, "act_bits", 1, 32)
        _bits(self, "accumulator_bits", 4, 64)


@dataclass(frozen=True)
class Config:
    """The whole simulated system. ``seed`` makes every run reproducible."""

    _section = ""
    name: str = "custom"
    seed: int = 0
    device: DeviceConfig = field(default_factory=DeviceConfig)
    array: ArrayConfig = field(default_factory=ArrayConfig)
    periphery: PeripheryConfig = field(default_factory=PeripheryConfig)
    chip: ChipConfig = field(default_factory=ChipConfig)
    cost: CostConfig = field(default_factory=CostConfig)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            _fail("seed", self.seed, "an integer >= 0")
        if self.array.ir_drop == "approx" and self.periphery.adc.sensing == "voltage":
            _fail("array.ir_drop", "approx", '"off" or "exact" with periphery.adc.sensing = "voltage"')

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (TOML/JSON-ready)."""
        return _to_dict(self)

    def to_toml(self) -> str:
        """The config as TOML text; ``load_config`` reads it back."""
        return tomli_w.dumps(self.to_dict())


T = TypeVar("T")


def _to_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if is_dataclass(v):
            out[f.name] = _to_dict(v)
        elif isinstance(v, tuple):
            out[f.name] = [list(x) if isinstance(x, tuple) else x for x in v]
        else:
            out[f.name] = v
    return out


def _coerce(path: str, value: Any, hint: Any) -> Any:
    """Convert a TOML value to the field's declared type, or fail naming the field."""
    text = str(hint)
    if text == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(path, value, "a number")
        return float(value)
    if text == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(path, value, "an integer")
        return value
    if text == "bool":
        if not isinstance(value, bool):
            _fail(path, value, "true or false")
        return value
    if text == "str":
        if not isinstance(value, str):
            _fail(path, value, "a string")
        return value
    if text.startswith("tuple[tuple"):
        if not isinstance(value, (list, tuple)) or not all(isinstance(r, (list, tuple)) for r in value):
            _fail(path, value, "a list of lists of numbers")
        return tuple(tuple(float(_coerce(path, x, "float")) for x in row) for row in value)
    if text.startswith("tuple"):
        if not isinstance(value, (list, tuple)):
            _fail(path, value, "a list of numbers")
        return tuple(float(_coerce(path, x, "float")) for x in value)
    return value


def _from_dict(cls: type[T], data: dict[str, Any], base: T | None, prefix: str) -> T:
    if not isinstance(data, dict):
        _fail(prefix or "config", data, "a table of keys")
    hints = get_type_hints(cls)
    names = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if key not in names:
            raise ConfigError(f"unknown key {path!r}: allowed keys are {', '.join(sorted(names))}")
        hint = hints[key]
        current = getattr(base, key) if base is not None else None
        if is_dataclass(hint):
            kwargs[key] = _from_dict(hint, value, current, path)  # type: ignore[arg-type]
        else:
            name = hint.__name__ if hint in (float, int, bool, str) else str(hint)
            kwargs[key] = _coerce(path, value, name)
    if base is not None:
        return dataclasses.replace(base, **kwargs)  # type: ignore[type-var]
    return cls(**kwargs)


def override(config: Config, changes: dict[str, Any]) -> Config:
    """Return ``config`` with a nested dict of changes applied (validated like a file)."""
    return _from_dict(Config, changes, config, "")


def available_presets() -> list[str]:
    """Names of the shipped presets (TOML files in ``reram/presets``)."""
    files = resources.files("reram.presets").iterdir()
    return sorted(p.name[:-5] for p in files if p.name.endswith(".toml"))


def preset(name: str) -> Config:
    """Load a named preset (``ideal``, ``neurram``, ``hfox``, ...)."""
    names = available_presets()
    if name not in names:
        raise ConfigError(f"preset = {name!r} is unknown: allowed is one of {', '.join(names)}")
    text = resources.files("reram.presets").joinpath(f"{name}.toml").read_text()
    return _load_text(text, f"preset {name!r}")


def _load_text(text: str, where: str) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None
    base_name = data.pop("base", None)
    base = preset(base_name) if base_name is not None else None
    return _from_dict(Config, data, base, "")


def load_config(source: str | Path | dict[str, Any] | Config | None = None) -> Config:
    """Load a config from a preset name, a TOML file path, a dict, or pass a Config through.

    A TOML file may name ``base = "neurram"`` and override only some keys.
    """
    if source is None:
        return preset("neurram")
    if isinstance(source, Config):
        return source
    if isinstance(source, dict):
        data = dict(source)
        base_name = data.pop("base", None)
        base = preset(base_name) if base_name is not None else None
        return _from_dict(Config, data, base, "")
    path = Path(source)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        return _load_text(path.read_text(), f"config file {str(path)!r}")
    return preset(str(source))
