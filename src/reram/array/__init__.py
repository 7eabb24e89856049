"""Crossbar arrays: weights -> differential conductance pairs; Ohm + Kirchhoff MVM."""

from reram.array.conductance import TileConductances, weights_to_conductances
from reram.array.mvm import column_currents, read_noise_sigma_S, row_currents

__all__ = [
    "TileConductances",
    "column_currents",
    "read_noise_sigma_S",
    "row_currents",
    "weights_to_conductances",
]
