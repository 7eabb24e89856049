"""The on-chip layer's update kernel: pulse coincidences applied to the cells, with their events.

:class:`UpdateKernel` is the part of :class:`reram.nn.onchip.OnChipLinear` that writes: the
recorded (x, d) of a batch become pulse coincidences per cell (``reram.array.outer``), the
cells respond by the device's update model (``reram.device.update``), and the selected and
half-selected cells' pulses and energy are counted in the layer's ``events``. The reads
(forward and transposed) stay in ``reram.nn.onchip``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from reram.array.onchip_wires import update_efficiency
from reram.array.outer import coincidences
from reram.config import Config
from reram.device import update as cellupd
from reram.events import EventCounts


class UpdateKernel:
    """The outer-product update of an on-chip layer (a mixin of ``OnChipLinear``, which owns the state)."""

    config: Config
    events: EventCounts
    gen: torch.Generator
    cells: list[cellupd.PulseCells]
    recorded: tuple[torch.Tensor, torch.Tensor] | None
    in_features: int
    out_features: int
    _wired: bool
    _lines_S: Any

    if TYPE_CHECKING:  # OnChipLinear's

        def pulse_step(self, k: int) -> float: ...  # noqa: D102
        def conductances_S(self) -> list[torch.Tensor]: ...  # noqa: D102
        def sync(self) -> None: ...  # noqa: D102

    def pulse_update(self, lr: float, slots: int, mode: str, cell: int | None = None) -> None:
        """Outer-product update of the recorded batch: cells move by about -lr * d^T x.

        Args:
            lr: learning rate (weight units per unit of d x).
            slots: pulse slots per sample.
            mode: "stochastic", "deterministic" or "ideal" pulse trains.
            cell: which cell takes the update (default: the least significant).

        """
        if self.recorded is None:
            return
        xq, dq = self.recorded
        k = len(self.cells) - 1 if cell is None else cell
        counts = coincidences(xq, -dq, lr / self.pulse_step(k), slots, mode, self.gen)
        full = float(counts.cell_pulses or 0.0)
        e = self.events
        g_full = self._pulsed_conductance_S(counts.n_up, counts.n_down, k, full)
        n_up, n_down = counts.n_up, counts.n_down
        if counts.row_lines is not None and counts.col_lines is not None:  # half-selected cells on the pulsed lines
            upd = self.config.device.update
            g_in, g_out = self._lines_S[k]
            g_lines = float(counts.row_lines @ g_in + counts.col_lines @ g_out)
            e.update_cell_J += (g_lines - 2 * g_full) * (upd.v_write_V / 2) ** 2 * upd.t_write_s
            if self._wired:  # the pulses reach the cells weakened by the lines' drops: part of a step each
                trains = xq.shape[0] * slots  # the lines' firing rates over the update's slots
                rates = (counts.row_lines / trains, counts.col_lines / trains)
                eff = update_efficiency(self.conductances_S(), k, *rates, self.config)
                n_up, n_down = n_up * eff, n_down * eff
        self.apply_counts(k, n_up, n_down, full, g_full)
        e.update_samples += xq.shape[0]
        e.update_row_pulses += counts.row_pulses
        e.update_col_pulses += counts.col_pulses
        e.half_selected += counts.row_pulses * self.out_features + counts.col_pulses * self.in_features - 2 * full
        self.recorded = None

    def apply_counts(self, k: int, n_up: torch.Tensor, n_down: torch.Tensor, pulses: float | None = None,
                     pulsed_S: float | None = None) -> None:  # fmt: skip
        """Apply SET/RESET pulse counts to cell ``k`` and re-read the weights.

        Args:
            k: the cell (0 = most significant).
            n_up, n_down: (out, in) SET / RESET pulses per cell.
            pulses: their sum over the cells, when the caller knows it.
            pulsed_S: sum of pulses x conductance (siemens), when the caller knows it.

        """
        upd = self.config.device.update
        pulses = float(n_up.sum() + n_down.sum()) if pulses is None else pulses
        pulsed_S = self._pulsed_conductance_S(n_up, n_down, k, pulses) if pulsed_S is None else pulsed_S
        self.events.update_cell_J += pulsed_S * upd.v_write_V**2 * upd.t_write_s  # selected cells: V_w^2 G t
        cellupd.apply_pulses(self.cells[k], n_up, n_down, upd, self.gen)
        self.events.update_cell_pulses += pulses
        self.sync()

    def program_rows(self, k: int, n_up: torch.Tensor, n_down: torch.Tensor) -> None:
        """Apply SET/RESET counts to cell ``k`` by programming row by row (not by coincidence):
        each input row is driven while the columns that need pulses get them, SET then RESET.
        """
        self.events.program_slots += float(n_up.amax(0).sum() + n_down.amax(0).sum()) if n_up.numel() else 0.0
        self.apply_counts(k, n_up, n_down)

    def read_all_cells(self, k: int) -> None:
        """Count the events of reading every cell of cell ``k`` (row by row, one-hot drives)."""
        e, arr = self.events, self.config.array
        e.vectors += self.in_features
        e.mvms += self.in_features
        e.dac_conversions += self.in_features
        e.adc_conversions += self.in_features * self.out_features
        v = arr.v_read_V
        e.cell_energy_J += float(self._lines_S[k][0].sum()) * v * self.config.device.drive_V(v) * arr.t_pulse_s

    def _pulsed_conductance_S(self, n_up: torch.Tensor, n_down: torch.Tensor, k: int, pulses: float) -> float:
        """Sum over cell ``k``'s cells of pulses x conductance (siemens), at the state before the pulses."""
        dev = self.config.device
        u = self.cells[k].u.flatten()
        pulses_u = float(torch.dot(n_up.flatten(), u) + torch.dot(n_down.flatten(), u))
        return pulses_u * (dev.g_max_S - dev.g_min_S) + pulses * dev.g_min_S
