"""Fault-aware fine-tuning: train the healthy weights around the faults the verify read found.

After programming, a chip knows which cells are stuck (they failed the verify read; each layer
keeps them in ``frozen``). A weight whose pair holds a stuck cell is no longer the network's:
the chip realises (G+ - G-) / s there, whatever the target (pair repair included, when on).
Fine-tuning fixes those weights at the value the chip realises and trains the others, in
software, so that they make up for them (the remedy of Liu et al., DAC 2017, "Rescuing
memristor-based neuromorphic design with high defects"); the chip is then programmed again with
the same seed (its faults are a property of the chip: the same cells stay stuck) and calibrated.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reram.nn import analog_layers, calibrate
from reram.nn.layers import AnalogLayer
from reram.train.loops import fit


def realised_weights(layer: AnalogLayer) -> tuple[torch.Tensor, torch.Tensor]:
    """(the weights the programmed chip realises, the weights a stuck cell fixes), both shaped
    as ``layer.weight``: (G+ - G-) / s of every pair as programmed (ideal wires, no relaxation),
    and True where either cell of the pair is stuck.
    """
    tc, target = layer.conductance_targets()
    g = layer.g_S
    w_tiles = (g[0] - g[1]) / tc.s_per_weight[:, None, :]
    stuck_tiles = (layer.frozen & (target > 0)).any(0)
    grid, shape = layer.grid, layer.weight.shape

    def as_weight(tiles: torch.Tensor) -> torch.Tensor:
        return grid.unpack(tiles).T.reshape(shape)

    return as_weight(w_tiles).to(layer.weight.dtype), as_weight(stuck_tiles.to(torch.uint8)).bool()


def fault_aware_finetune(
    chip: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 1,
    lr: float = 3e-4,
    batch_size: int = 128,
    seed: int = 0,
    calibration: torch.Tensor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Fine-tune a programmed chip's healthy weights around its stuck cells, then re-program it.

    Args:
        chip: a converted, programmed model (modified in place).
        x, y: fine-tuning data.
        epochs: epochs of fine-tuning.
        lr: learning rate (Adam, one-cycle).
        batch_size: batch size.
        seed: shuffling seed (programming keeps each layer's own seed: the same faults).
        calibration: inputs for the re-calibration (default: the first 1,000 of ``x``).
        progress: called as ``progress(done_batches, total_batches)``.

    Returns:
        {"fixed_weights": weights a stuck cell fixed, "trained_weights": the others}.

    Raises:
        ValueError: if the model has no programmed analog layer.

    """
    layers = [m for _, m in analog_layers(chip)]
    if not layers or not all(bool(m.programmed) for m in layers):
        raise ValueError("fault_aware_finetune needs a converted model whose layers are programmed: "
                         "call model.program() first")  # fmt: skip
    hooks, fixed_total, trained = [], 0, 0
    keep: list[tuple[AnalogLayer, torch.Tensor, torch.Tensor]] = []
    for m in layers:
        w_chip, fixed = realised_weights(m)
        with torch.no_grad():
            m.weight.copy_(torch.where(fixed, w_chip, m.weight))
        hooks.append(m.weight.register_hook(lambda grad, fixed=fixed: grad.masked_fill(fixed, 0.0)))
        keep.append((m, fixed, w_chip))
        fixed_total += int(fixed.sum())
        trained += int((~fixed).sum())
        m.digital = True
    try:
        fit(chip, x, y, epochs, lr, batch_size, seed, progress=progress)
    finally:
        for h in hooks:
            h.remove()
        for m in layers:
            m.digital = False
    with torch.no_grad():  # Adam moves no weight whose gradient stayed 0; made exact all the same
        for m, fixed, w_chip in keep:
            m.weight.copy_(torch.where(fixed, w_chip, m.weight))
    for m in layers:
        m.program()  # the layer's seed: the same cells stuck
    device = next(chip.parameters()).device
    cal = x[:1000] if calibration is None else calibration
    calibrate(chip, cal.to(device).split(500))
    chip.eval()
    return {"fixed_weights": fixed_total, "trained_weights": trained}
