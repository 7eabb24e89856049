"""The parallel outer-product update: where row and column pulse trains coincide on a cell.

For one training sample the rows carry pulse trains that encode the layer's inputs x and the
columns trains that encode its errors d; a cell is pulsed only in the slots where both its row
and its column fire (the row at +V/2, the column at -V/2: the cell sees V, a half-selected one
V/2). Over a train of ``slots`` slots with row firing probability p_x = c_x |x| and column
probability p_d = c_d |d|, a cell expects slots * p_x * p_d coincidences: the outer product,
with the sign of x * d deciding SET (up) or RESET (down). (Gokmen & Vlasov, Front. Neurosci.
2016; Marinella et al., IEEE JETCAS 2018.)

Modes:

- "stochastic": Bernoulli trains drawn for every sample, slot and line; coincidences counted
  exactly (one matmul over batch x slots for all coincidences, one for their signs);
- "deterministic": each line fires a whole number of pulses, n_x = slots * p_x and n_d = slots *
  p_d rounded stochastically (dithered, so that small values are not lost to rounding), placed
  so that a cell sees n_x n_d / slots coincidences on average over the train's arrangements
  (aihwkit's implicit deterministic trains: the count may be fractional, the cell then moves by
  that fraction of a pulse's step);
- "ideal": the expected counts themselves, unquantised (a reference without train noise).

``c_x`` and ``c_d`` follow update management (Gokmen & Vlasov 2016): their product gives the
wanted pulses per unit of x * d, and they are balanced so that the largest |x| and the largest
|d| of the batch fire with the same probability; probabilities above 1 are clipped (at most
``slots`` pulses per sample: the hardware's limit, counted in ``UpdateCounts.clipped``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MODES = ("stochastic", "deterministic", "ideal")


@dataclass
class UpdateCounts:
    """Pulse counts of one outer-product update.

    Attributes:
        n_up, n_down: (out, in) SET and RESET coincidences per cell (pulses).
        row_pulses, col_pulses: pulses fired on all rows / all columns (events).
        clipped: fraction of line firing probabilities that exceeded 1.

    """

    n_up: torch.Tensor
    n_down: torch.Tensor
    row_pulses: float
    col_pulses: float
    clipped: float


def _stochastic_round(t: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    # floor(t + U[0, 1)): t rounded up with probability frac(t)
    return (t + torch.rand(t.shape, generator=gen, device=t.device, dtype=t.dtype)).floor_()


def coincidences(
    x: torch.Tensor,
    d: torch.Tensor,
    pulses_per_unit: float,
    slots: int = 31,
    mode: str = "stochastic",
    gen: torch.Generator | None = None,
) -> UpdateCounts:
    """Pulse coincidences of a batch of rank-one updates sum_b d_b x_b^T.

    Args:
        x: (batch, in) what the rows encode (input units).
        d: (batch, out) what the columns encode; the wanted change of cell (j, i) is
            ``pulses_per_unit * sum_b d_bj x_bi`` pulses, up where positive.
        pulses_per_unit: pulses per unit of x * d (learning rate / weight change of one pulse).
        slots: pulse slots per sample (the train length; ``BL`` in aihwkit).
        mode: "stochastic", "deterministic" or "ideal".
        gen: generator for the trains (and stochastic rounding).

    Returns:
        The counts, (out, in) per cell.

    """
    if mode not in MODES:
        raise ValueError(f"pulse mode = {mode!r} is unknown: allowed is one of {', '.join(MODES)}")
    if not isinstance(slots, int) or slots < 1:
        raise ValueError(f"slots = {slots!r} is invalid: allowed is an integer >= 1")
    ax, ad = x.abs(), d.abs()
    x_max = float(ax.max()) if ax.numel() else 0.0
    d_max = float(ad.max()) if ad.numel() else 0.0
    if x_max == 0 or d_max == 0 or pulses_per_unit == 0:
        z = torch.zeros(d.shape[1], x.shape[1], dtype=x.dtype, device=x.device)
        return UpdateCounts(z, z.clone(), 0.0, 0.0, 0.0)
    if mode == "ideal":
        total = pulses_per_unit * (ad.T @ ax)
        net = pulses_per_unit * (d.T @ x)
        p_x = ax * (pulses_per_unit * d_max / x_max) ** 0.5 / slots**0.5
        p_d = ad * (pulses_per_unit * x_max / d_max) ** 0.5 / slots**0.5
        return UpdateCounts((total + net) / 2, (total - net) / 2, float(p_x.sum()) * slots,
                            float(p_d.sum()) * slots, 0.0)  # fmt: skip
    # update management: c_x c_d slots = pulses_per_unit, c_x x_max = c_d d_max
    c_x = (pulses_per_unit / slots * d_max / x_max) ** 0.5
    c_d = (pulses_per_unit / slots * x_max / d_max) ** 0.5
    p_x, p_d = ax * c_x, ad * c_d
    clipped = 0.0
    if c_x * x_max > 1:  # the largest |x| and |d| fire with the same probability, c_x x_max = c_d d_max
        clipped = float(((p_x > 1).sum() + (p_d > 1).sum()) / (p_x.numel() + p_d.numel()))
        p_x, p_d = p_x.clamp_max(1.0), p_d.clamp_max(1.0)
    if mode == "deterministic":
        n_x, n_d = _stochastic_round(p_x * slots, gen), _stochastic_round(p_d * slots, gen)
        total = (n_d.T @ n_x).div_(2 * slots)
        net = ((n_d * d.sign()).T @ (n_x * x.sign())).div_(2 * slots)
        return UpdateCounts(total + net, total.sub_(net), float(n_x.sum()), float(n_d.sum()), clipped)
    b = x.shape[0]
    rows = (torch.rand(b, slots, x.shape[1], generator=gen, device=x.device) < p_x.unsqueeze(1)).to(x.dtype)
    cols = (torch.rand(b, slots, d.shape[1], generator=gen, device=x.device) < p_d.unsqueeze(1)).to(x.dtype)
    total = cols.view(b * slots, -1).T @ rows.view(b * slots, -1)
    net = (cols * d.sign().unsqueeze(1)).view(b * slots, -1).T @ (rows * x.sign().unsqueeze(1)).view(b * slots, -1)
    return UpdateCounts((total + net) / 2, (total - net) / 2, float(rows.sum()), float(cols.sum()), clipped)
