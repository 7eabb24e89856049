"""The crossbar's resistor network described: wire and access resistances, how the lines meet
the periphery, and what a solve returns (the solvers are in :mod:`reram.array.circuit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from reram.config import ArrayConfig


@dataclass(frozen=True)
class Wires:
    """Parasitic resistances (ohms).

    Attributes:
        r_row: row (word-line) segment between neighbouring cells, and from the driver to the
            first cell.
        r_col: column (bit-line) segment between neighbouring cells, and from the last cell
            towards the sense amplifier.
        r_source: driver output resistance, in series with each row's first segment.
        r_sense: sense amplifier input resistance, in series with each column's last segment.
        r_access: access-transistor on-resistance in series with every cell (1T1R).

    """

    r_row: float = 1.0
    r_col: float = 1.0
    r_source: float = 0.0
    r_sense: float = 0.0
    r_access: float = 0.0

    def __post_init__(self) -> None:
        for name in ("r_row", "r_col", "r_source", "r_sense", "r_access"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} = {v!r} is invalid: allowed is a finite resistance >= 0 ohms")
        if self.r_row == 0 and self.r_source > 0 or self.r_col == 0 and self.r_sense > 0:
            raise ValueError(
                f"r_source = {self.r_source!r} / r_sense = {self.r_sense!r} with zero segment resistance is not "
                "supported: give r_row / r_col > 0 (fold the series resistance into the first / last segment)"
            )


def _check(g_S: torch.Tensor, v_V: torch.Tensor | None) -> None:
    if g_S.dim() != 2 or min(g_S.shape) < 1:
        raise ValueError(f"g_S has shape {tuple(g_S.shape)}: allowed is (rows, cols) conductances in siemens")
    if not bool(torch.isfinite(g_S).all()) or bool((g_S < 0).any()):
        raise ValueError("g_S holds negative, NaN or infinite conductances: allowed are finite values >= 0 S")
    if v_V is not None:
        if v_V.dim() != 2 or v_V.shape[1] != g_S.shape[0]:
            raise ValueError(
                f"v_in_V has shape {tuple(v_V.shape)}: allowed is (batch, {g_S.shape[0]}) row voltages in volts"
            )
        if not bool(torch.isfinite(v_V).all()):
            raise ValueError("v_in_V holds NaN or infinite voltages: allowed are finite volts")


def _cells(g_S: torch.Tensor, w: Wires) -> torch.Tensor:
    g = g_S.to(torch.float64)
    if w.r_access > 0:
        g = g / (1.0 + g * w.r_access)
    return g


_SENSING = ("current", "voltage")
_UNSELECTED = ("driven", "floating", "biased")


@dataclass(frozen=True)
class Topology:
    """How the array's lines meet the periphery.

    Attributes:
        sensing: "current" (each column into a virtual ground through ``r_sense``; the output is
            that current) or "voltage" (NeuRRAM's floating bit lines: the output is the bit-line
            voltage at the sense amplifier's high-impedance input).
        unselected_rows: rows whose input is exactly 0 V (or not in ``selected``): "driven" (held
            at 0 V by their drivers: 1T1R and driven passive arrays), "floating" (passive 1R read
            with idle drivers disconnected: sneak paths run through these rows) or "biased"
            (held at ``bias_V``, e.g. V/2 or V/3 schemes).
        bias_V: voltage of biased unselected rows (volts).
        leak_S: conductance to ground of a floating line (an idle driver's or a voltage sense
            amplifier's input leakage; siemens). Keeps a line with no cells defined.

    """

    sensing: str = "current"
    unselected_rows: str = "driven"
    bias_V: float = 0.0
    leak_S: float = 1e-12

    def __post_init__(self) -> None:
        if self.sensing not in _SENSING:
            raise ValueError(f"sensing = {self.sensing!r} is invalid: allowed are {_SENSING}")
        if self.unselected_rows not in _UNSELECTED:
            raise ValueError(f"unselected_rows = {self.unselected_rows!r} is invalid: allowed are {_UNSELECTED}")
        if not math.isfinite(self.bias_V):
            raise ValueError(f"bias_V = {self.bias_V!r} is invalid: allowed are finite volts")
        if not (math.isfinite(self.leak_S) and self.leak_S > 0):
            raise ValueError(f"leak_S = {self.leak_S!r} is invalid: allowed is a finite conductance > 0 S")

    @property
    def default(self) -> bool:
        """Current sensing with every row driven: the case with a closed-form fast path."""
        return self.sensing == "current" and self.unselected_rows == "driven"


@dataclass
class CircuitSolution:
    """Outputs and, optionally, every node voltage of a batch of inputs.

    Attributes:
        currents_A: (batch, cols) currents into the sense amplifiers (amperes).
        row_V: (batch, rows, cols) row-line node voltages, or None.
        col_V: (batch, rows, cols) column-line node voltages, or None.
        sense_V: (batch, cols) bit-line voltages at the sense amplifiers' inputs (volts), for
            voltage sensing; None for current sensing.

    """

    currents_A: torch.Tensor
    row_V: torch.Tensor | None = None
    col_V: torch.Tensor | None = None
    sense_V: torch.Tensor | None = None


def wires_of(arr: ArrayConfig) -> Wires:
    """The parasitic resistances an array config declares (``array.r_*_ohm``)."""
    return Wires(arr.r_wire_ohm, arr.r_bitline_ohm, arr.r_source_ohm, arr.r_sense_ohm, arr.r_access_ohm)
