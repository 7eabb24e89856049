"""Published figures the model is checked against: each a calibration point or a held-out check.

A figure whose constants were chosen to reproduce it is a *calibration point*; every other
figure is a *held-out check* of the model. The table is what ``reram validate`` prints and
``docs/validation.md`` records.

NeuRRAM (Wan et al., Nature 2022, Extended Data Fig. 12, as digitised by the CiMLoop authors,
Andrulis et al., ISPASS 2024, in their reproduction of the macro): efficiency, throughput (48
cores) and the energy breakdown per operation at input/output bit-precisions 1/3 ... 8/10, two-phase
inputs from 5 bits. Marinella et al. (IEEE JETCAS 2018): 11 fJ per MAC, 270x the energy and 540x
the latency of a digital ReRAM block.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from reram.config import Config, override, preset
from reram.cost import peak
from reram.cost.baselines import block_comparison

# (input bits, output bits) -> (TOPS of 48 cores, TOPS/W, (word lines, neuron and control,
# input pulses) fJ per operation)
NEURRAM_PRECISIONS: dict[tuple[int, int], tuple[float, float, tuple[float, float, float]]] = {
    (1, 3): (2.122, 43.08, (8.99, 10.62, 3.45)),
    (2, 4): (1.793, 40.33, (8.27, 12.39, 3.96)),
    (3, 5): (1.165, 23.09, (15.46, 20.12, 7.73)),
    (4, 6): (0.744, 15.95, (21.76, 29.11, 11.51)),
    (5, 7): (0.525, 11.03, (30.93, 44.21, 14.02)),
    (6, 8): (0.418, 8.26, (37.22, 52.48, 19.24)),
    (7, 9): (0.344, 7.75, (43.69, 61.83, 22.83)),
    (8, 10): (0.264, 6.44, (50.52, 75.86, 27.51)),
}
NEURRAM_CALIBRATION = (4, 6)  # the word-line share and the neuron's bias were set here
NEURRAM_TIMING_CALIBRATION = ((1, 3), (2, 4), (3, 5), (4, 6))  # the cycle counts were set from these


@dataclass(frozen=True)
class Check:
    """One published figure against the model.

    Attributes:
        figure: what is compared, with its unit.
        published: the paper's value.
        model: the simulator's value.
        role: "calibration" (constants were chosen to match it) or "held-out".
        source: where the published value comes from.

    """

    figure: str
    published: float
    model: float
    role: str
    source: str

    @property
    def ratio(self) -> float:
        """Model / published."""
        return self.model / self.published


def neurram_at(bits_in: int, bits_out: int, base: Config | None = None) -> Config:
    """The NeuRRAM preset at an input/output precision (the chip's two-phase rule is in the preset)."""
    return override(base or preset("neurram"), {"periphery": {"dac": {"bits": bits_in}, "adc": {"bits": bits_out}}})


def neurram_checks() -> list[Check]:
    """NeuRRAM's efficiency, throughput and breakdown at every published precision."""
    src = "Wan et al., Nature 2022, Extended Data Fig. 12 (digitised by CiMLoop)"
    out = []
    for (i, o), (tops, tops_w, (wl, neuron, inputs)) in NEURRAM_PRECISIONS.items():
        p = peak(neurram_at(i, o))

        def fj(*parts: str, p: dict[str, float] = p) -> float:
            return sum(p[f"{k}_J_per_mac"] for k in parts) * 1e15 / 2  # per operation (2 per MAC)

        role = "calibration" if (i, o) == NEURRAM_CALIBRATION else "held-out"
        t_role = "calibration" if (i, o) in NEURRAM_TIMING_CALIBRATION else "held-out"
        out += [
            Check(f"NeuRRAM {i}b/{o}b TOPS/W", tops_w, p["tops_per_w"], role, src),
            Check(f"NeuRRAM {i}b/{o}b TOPS (48 cores)", tops, p["tops_chip"], t_role, src),
            Check(f"NeuRRAM {i}b/{o}b word lines fJ/op", wl, fj("wordline"), role, src),
            Check(f"NeuRRAM {i}b/{o}b neuron fJ/op", neuron, fj("adc", "integrator", "shift_add"), role, src),
            Check(f"NeuRRAM {i}b/{o}b input pulses fJ/op", inputs, fj("cell", "bitline"), "held-out", src),
        ]
    return out


def marinella_checks() -> list[Check]:
    """Marinella et al.'s analog MAC energy and the ratios against a digital ReRAM block."""
    cfg = preset("marinella2018")
    p = peak(cfg)
    cmp = block_comparison(cfg, p)
    src = "Marinella et al., IEEE JETCAS 2018"
    return [
        Check("Marinella analog MAC fJ", 11.0, p["energy_per_mac_J"] * 1e15, "calibration", src),
        Check("Marinella energy vs digital ReRAM (x)", 270.0, cmp["energy_ratio"], "calibration", src),
        Check("Marinella latency vs digital ReRAM (x)", 540.0, cmp["latency_ratio"], "calibration", src),
    ]


def all_checks() -> list[Check]:
    """Every published figure the project reproduces."""
    return neurram_checks() + marinella_checks()


def as_rows(checks: list[Check]) -> list[dict[str, Any]]:
    """JSON/CSV-ready rows (with the ratio)."""
    return [{**asdict(c), "ratio": c.ratio} for c in checks]
