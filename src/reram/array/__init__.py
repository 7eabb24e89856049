"""Crossbar arrays: weights -> differential conductance pairs; Ohm + Kirchhoff MVM."""

from reram.array.conductance import TileConductances, weights_to_conductances
from reram.array.mvm import add_read_noise_, column_currents, gaussian_like, row_currents

__all__ = [
    "TileConductances",
    "column_currents",
    "add_read_noise_",
    "gaussian_like",
    "row_currents",
    "weights_to_conductances",
]
