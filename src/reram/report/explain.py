"""What a reader of a report needs besides the numbers: the config in units, what was simulated,
and layer names that say what the layer is.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

_SCALES = {  # field-name suffix -> (unit steps as (factor, unit), ...), largest first
    "_S": ((1e-3, "mS"), (1e-6, "µS"), (1e-9, "nS")),
    "_s": ((86400.0, "days"), (3600.0, "h"), (1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"), (1e-12, "ps")),
    "_V": ((1.0, "V"), (1e-3, "mV")),
    "_ohm": ((1e3, "kΩ"), (1.0, "Ω"), (1e-3, "mΩ")),
    "_K": ((1.0, "K"),),
    "_F": ((1e-12, "pF"), (1e-15, "fF"), (1e-18, "aF")),
    "_Hz": ((1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz"), (1.0, "Hz")),
    "_J": ((1e-6, "µJ"), (1e-9, "nJ"), (1e-12, "pJ"), (1e-15, "fJ")),
    "_eV": ((1.0, "eV"),),
    "_kB": ((1.0, "kB"),),
    "_F2": ((1.0, "F²"),),
}


def quantity(name: str, value: Any) -> str:
    """A field's value for reading: SI values in the unit that suits them (``g_max_S`` 4e-05 ->
    "40 µS", ``t_pulse_s`` 1e-08 -> "10 ns", ``ages_s`` 86400 -> "1 days"), others as they are.
    """
    if isinstance(value, tuple):
        return "[" + ", ".join(quantity(name, v) for v in value) + "]" if value else "none"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    suffix = next((s for s in sorted(_SCALES, key=len, reverse=True) if name.endswith(s)), None)
    if suffix is None:
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    if value == 0:
        return f"0 {_SCALES[suffix][-1][1] if suffix != '_s' else 's'}"
    for factor, unit in _SCALES[suffix]:
        if abs(value) >= factor * 0.999:
            return f"{value / factor:.4g} {unit}"
    factor, unit = _SCALES[suffix][-1]
    return f"{value / factor:.4g} {unit}"


def config_rows(obj: Any, prefix: str = "") -> list[dict[str, str]]:
    """Every field of a config dataclass as {"field", "value"} rows, values in their units."""
    rows: list[dict[str, str]] = []
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(v):
            rows += config_rows(v, path + ".")
        elif f.name == "relax_poly_uS":
            rows.append({"field": path, "value": "; ".join("[" + ", ".join(f"{c:g}" for c in p) + "]" for p in v)})
        else:
            rows.append({"field": path, "value": quantity(f.name, v)})
    return rows


def simulated(config: Any) -> list[str]:
    """What the simulation included, in sentences."""
    d, a, p = config.device, config.array, config.periphery
    noise = f"read noise {d.read_noise_rel:.3g} x g_max per cell" if d.read_noise_rel else "no read noise"
    relax = f"relaxation fitted at {quantity('t_s', d.relax_times_s)}" if d.relax_times_s else "no relaxation"
    faults = (f"stuck cells {d.stuck_low_rate:.2%} low / {d.stuck_high_rate:.2%} high"
              if d.stuck_low_rate or d.stuck_high_rate else "no stuck cells")  # fmt: skip
    wires = "ideal wires"
    if a.ir_drop != "off":
        wires = f"IR drop {a.ir_drop} ({quantity('r_ohm', a.r_wire_ohm)} per segment)"
    inputs = f"{p.dac.bits}-bit inputs {'bit-serial' if p.dac.bit_serial else 'as multi-level pulses'}"
    return [
        f"preset {config.name!r}: cells {quantity('g_S', d.g_min_S)} to {quantity('g_S', d.g_max_S)}, "
        f"{d.levels or 'continuous'} levels, programming {d.program_mode}",
        f"{noise}; {relax}; {faults}; {wires}",
        f"{a.rows}x{a.cols} arrays, differential {a.differential}, {inputs}, {p.adc.bits}-bit ADC "
        f"({p.adc.sensing} sensing, {p.adc.range} range at the {p.adc.percentile:g}th percentile)",
    ]


def describe(m: nn.Module) -> str:
    """A module's type and shape in words: "Conv2d 1→16, 3×3", "Linear 512→10"."""
    to_float = getattr(type(m), "to_float", None)
    if callable(to_float):  # an analog layer: describe the float layer it stands for
        m = to_float(m)
    if isinstance(m, nn.modules.conv._ConvNd):
        k = "×".join(str(x) for x in m.kernel_size)
        return f"{type(m).__name__} {m.in_channels}→{m.out_channels}, {k}"
    if isinstance(m, nn.Linear):
        return f"{type(m).__name__} {m.in_features}→{m.out_features}"
    return type(m).__name__


def layer_label(name: str, m: nn.Module) -> str:
    """``name (type and shape)``: "0 (Conv2d 1→16, 3×3)"."""
    return f"{name or '(model)'} ({describe(m)})"
