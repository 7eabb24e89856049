"""The integrating neuron: bit-serial planes summed as charge before one conversion per slice.

NeuRRAM's neuron (Wan et al., Nature 2022) samples the bit line's settled voltage and adds it to
an integration capacitor; the settled line of an input's bit j is sampled 2**j times, so after a
slice the capacitor holds sum_j 2**j V_j (the slice's input code times the weighted sum) and the
neuron converts once. Read noise drawn once per plane is integrated with its plane (one settled
line is sampled; the conductance fluctuation, 1/f and telegraph-like, is slow against it).
Rounding happens after the sum, so the output is monotone along an input ray.
"""

from __future__ import annotations

import torch

from reram.periphery.dac import InputPlanes


def integrate(signal: torch.Tensor, planes: InputPlanes) -> tuple[torch.Tensor, list[float]]:
    """Sum the planes' sensed signals into one per slice.

    Args:
        signal: (planes * N, ...) per-plane sensed currents or voltages.
        planes: the input planes (their ``slices`` and ``repeats``).

    Returns:
        (slices * N, ...) integrated signals (same unit, times timesteps) and each slice's digital
        recombination weight (input-code units).

    """
    assert planes.slices is not None
    per_plane = signal.view(len(planes.weights), -1, *signal.shape[1:])
    out, weights = [], []
    for group in planes.slices:
        acc = per_plane[group[0]] * planes.repeats[group[0]]
        for p in group[1:]:
            acc.add_(per_plane[p], alpha=planes.repeats[p])
        out.append(acc)
        weights.append(planes.weights[group[0]] / planes.repeats[group[0]])
    return torch.cat(out), weights
