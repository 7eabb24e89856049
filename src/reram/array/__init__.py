"""Crossbar arrays: weights -> differential conductance pairs; Ohm + Kirchhoff MVM."""

from reram.array.conductance import (
    TileConductances,
    target_blocks,
    target_conductances,
    weights_to_conductances,
)
from reram.array.mvm import StackOp, repeated_grouping, row_grouping, transposed_stack
from reram.rng import gaussian_like

__all__ = [
    "StackOp",
    "TileConductances",
    "gaussian_like",
    "repeated_grouping",
    "row_grouping",
    "target_blocks",
    "target_conductances",
    "transposed_stack",
    "weights_to_conductances",
]
