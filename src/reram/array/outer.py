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
  p_d rounded with a dither (so that small values are not lost to rounding; unbiased, see
  :func:`dither_round`), placed so that a cell sees n_x n_d / slots coincidences on average over
  the train's arrangements (aihwkit's implicit deterministic trains: the count may be
  fractional, the cell then moves by that fraction of a pulse's step);
- "ideal": the expected counts themselves, unquantised (a reference without train noise).

``c_x`` and ``c_d`` follow update management (Gokmen & Vlasov 2016): their product gives the
wanted pulses per unit of x * d, and they are balanced so that the largest |x| and the largest
|d| of the batch fire with the same probability; probabilities above 1 are clipped (at most
``slots`` pulses per sample: the hardware's limit, counted in ``UpdateCounts.clipped``).
"""

from __future__ import annotations

import functools
import logging
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

MODES = ("stochastic", "deterministic", "ideal")
logger = logging.getLogger(__name__)


@dataclass
class UpdateCounts:
    """Pulse counts of one outer-product update.

    Attributes:
        n_up, n_down: (out, in) SET and RESET coincidences per cell (pulses).
        row_pulses, col_pulses: pulses fired on all rows / all columns (events).
        clipped: fraction of line firing probabilities that exceeded 1.
        cell_pulses: sum of n_up + n_down over the cells (events); computed when None.
        row_lines, col_lines: (in,) / (out,) pulses fired on each row / column (the update's
            half-selection energy weighs them by the conductance on the line; "ideal": expected).

    """

    n_up: torch.Tensor
    n_down: torch.Tensor
    row_pulses: float
    col_pulses: float
    clipped: float
    cell_pulses: float | None = None
    row_lines: torch.Tensor | None = None
    col_lines: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.cell_pulses is None:
            self.cell_pulses = float(self.n_up.sum() + self.n_down.sum())


_GOLDEN = (math.sqrt(5) - 1) / 2
_DITHER_STARTS = 1 << 16  # random starting points of the dither sequence


@functools.lru_cache(maxsize=8)
def _dither_sequence(numel: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    # the additive recurrence frac(n * golden ratio): the most evenly spread sequence on [0, 1)
    n = torch.arange(numel + _DITHER_STARTS, device=device, dtype=torch.float64)
    return (n * _GOLDEN).frac_().to(dtype)


def dither_round(t: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    """Round ``t`` (>= 0) to integers, up with probability frac(t): floor(t + r), r in [0, 1).

    The thresholds r are the golden-ratio sequence frac(n * 0.618...) read from a random start
    (ordered dither): over the start, every element's r is uniform to within 2**-16, so the
    rounding is unbiased, E = t, while one random number per call replaces one per element.
    """
    size = 1 << max(16, (t.numel() - 1).bit_length())  # cache one sequence per power of two
    start = int(torch.randint(_DITHER_STARTS, (), generator=gen, device="cpu" if gen is None else gen.device))
    r = _dither_sequence(size, t.device, t.dtype)[start : start + t.numel()].view(t.shape)
    return torch.add(t, r).floor_()


def _abs_max(t: torch.Tensor) -> tuple[torch.Tensor, float, bool]:
    # (|t|, max |t|, whether t >= 0) with one pass over t when it is non-negative (ReLU outputs, images)
    if t.numel() == 0:
        return t, 0.0, True
    lo, hi = (float(v) for v in torch.aminmax(t))
    if lo >= 0:
        return t, hi, True
    return t.abs(), max(hi, -lo), False


def coincidences(
    x: torch.Tensor,
    d: torch.Tensor,
    pulses_per_unit: float,
    slots: int = 31,
    mode: str = "deterministic",
    gen: torch.Generator | None = None,
) -> UpdateCounts:
    """Pulse coincidences of a batch of rank-one updates sum_b d_b x_b^T.

    Args:
        x: (batch, in) what the rows encode (input units).
        d: (batch, out) what the columns encode; the wanted change of cell (j, i) is
            ``pulses_per_unit * sum_b d_bj x_bi`` pulses, up where positive.
        pulses_per_unit: pulses per unit of x * d (learning rate / weight change of one pulse).
        slots: pulse slots per sample (the train length; ``BL`` in aihwkit).
        mode: "deterministic", "stochastic" or "ideal".
        gen: generator for the trains (and stochastic rounding).

    Returns:
        The counts, (out, in) per cell.

    """
    if mode not in MODES:
        raise ValueError(f"pulse mode = {mode!r} is unknown: allowed is one of {', '.join(MODES)}")
    if not isinstance(slots, int) or slots < 1:
        raise ValueError(f"slots = {slots!r} is invalid: allowed is an integer >= 1")
    ax, x_max, x_pos = _abs_max(x)
    ad, d_max, d_pos = _abs_max(d)
    if x_max == 0 or d_max == 0 or pulses_per_unit == 0:
        z = torch.zeros(d.shape[1], x.shape[1], dtype=x.dtype, device=x.device)
        return UpdateCounts(z, z.clone(), 0.0, 0.0, 0.0)
    if mode == "ideal":
        total = pulses_per_unit * (ad.T @ ax)
        net = pulses_per_unit * (d.T @ x)
        p_x = ax * (pulses_per_unit * d_max / x_max) ** 0.5 / slots**0.5
        p_d = ad * (pulses_per_unit * x_max / d_max) ** 0.5 / slots**0.5
        rate_x, rate_d = p_x.sum(0), p_d.sum(0)  # expected pulses per slot on each line
        return UpdateCounts((total + net) / 2, (total - net) / 2, float(rate_x.sum()) * slots,
                            float(rate_d.sum()) * slots, 0.0, None, rate_x * slots, rate_d * slots)  # fmt: skip
    # update management: c_x c_d slots = pulses_per_unit, c_x x_max = c_d d_max
    c_x = (pulses_per_unit / slots * d_max / x_max) ** 0.5
    c_d = (pulses_per_unit / slots * x_max / d_max) ** 0.5
    clip = c_x * x_max > 1  # the largest |x| and |d| fire with the same probability, c_x x_max = c_d d_max
    clipped = 0.0
    if clip:  # probabilities beyond 1: those lines fire in every slot
        clipped = float(((ax > 1 / c_x).sum() + (ad > 1 / c_d).sum()) / (ax.numel() + ad.numel()))
    if mode == "deterministic":
        t_x, t_d = torch.mul(ax, c_x * slots), torch.mul(ad, c_d * slots)
        if clip:
            t_x, t_d = t_x.clamp_max_(slots), t_d.clamp_max_(slots)
        n_x, n_d = dither_round(t_x, gen), dither_round(t_d, gen)
        sx, sd = n_x.sum(1), n_d.sum(1)  # pulses per sample on all rows / all columns
        n_up, n_down = _up_down(n_d, None if d_pos else d, n_x, None if x_pos else x, 1 / slots, slots + 1)
        return UpdateCounts(n_up, n_down, float(sx.sum()), float(sd.sum()), clipped, float(sx @ sd) / slots,
                            n_x.sum(0), n_d.sum(0))  # fmt: skip
    p_x, p_d = (ax * c_x).clamp_max_(1.0), (ad * c_d).clamp_max_(1.0)
    b = x.shape[0]
    rows = (torch.rand(b, slots, x.shape[1], generator=gen, device=x.device) < p_x.unsqueeze(1)).to(torch.int8)
    cols = (torch.rand(b, slots, d.shape[1], generator=gen, device=x.device) < p_d.unsqueeze(1)).to(torch.int8)

    def per_slot(t: torch.Tensor) -> torch.Tensor:  # (b, n) -> (b * slots, n), each sample's row repeated
        return t.unsqueeze(1).expand(-1, slots, -1).reshape(b * slots, -1)

    n_up, n_down = _up_down(cols.view(b * slots, -1), None if d_pos else per_slot(d),
                            rows.view(b * slots, -1), None if x_pos else per_slot(x), 1.0, 1)  # fmt: skip
    row_lines, col_lines = rows.sum((0, 1), dtype=x.dtype), cols.sum((0, 1), dtype=x.dtype)
    return UpdateCounts(n_up, n_down, float(row_lines.sum()), float(col_lines.sum()), clipped, None,
                        row_lines, col_lines)  # fmt: skip


_INT8: dict[str, bool] = {}  # device type -> whether its int8 product is exact and faster (and never raised)
_INT8_MIN = 8  # smallest result side given to the int8 kernel (torch 2.13's CPU kernel is wrong for one-row results)


def _median_s(fn: Callable[[], object], device: torch.device, repeats: int = 3) -> float:
    # median wall time of fn() in seconds, after one warm-up call (synchronised on CUDA)
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _int8_faster(device: torch.device, gen: torch.Generator) -> bool:
    """Whether int8 operands (their conversion included) beat float32 on an update-sized product.

    CPUs without VNNI (AVX2 only) run torch's int8 kernel ~30x slower than float32 (0.09 s
    against 0.003 s for 512 x 256 x 784 on a 2-core AVX2 EPYC): the count product is exact
    either way, so the faster one is kept; the choice changes no number.
    """
    a = torch.randint(0, 32, (256, 512), generator=gen).float().to(device)
    b = torch.randint(0, 32, (256, 784), generator=gen).float().to(device)
    t_int8 = _median_s(lambda: torch._int_mm(a.T.to(torch.int8), b.to(torch.int8)).float(), device)
    t_float = _median_s(lambda: a.T @ b, device)
    return t_int8 < t_float


def _int8_ok(device: torch.device) -> bool:
    """Whether ``torch._int_mm`` on this device type gives the exact product on probe shapes and
    runs faster than the float32 product (probed once per device type).
    """
    ok = _INT8.get(device.type)
    if ok is None:
        gen = torch.Generator().manual_seed(0)
        try:
            ok = True
            for n, m, k in ((3, 8, 8), (64, 20, 128), (5, 17, 9), (256, 24, 40)):
                a = torch.randint(-127, 128, (n, m), generator=gen).to(device)
                b = torch.randint(-127, 128, (n, k), generator=gen).to(device)
                want = a.T.double() @ b.double()
                ok = ok and torch.equal(torch._int_mm(a.T.to(torch.int8), b.to(torch.int8)).double(), want)
            ok = ok and _int8_faster(device, gen)
        except (RuntimeError, NotImplementedError, AttributeError):  # e.g. CUDA's layout and size rules
            ok = False
        _INT8[device.type] = ok
        logger.debug("int8 count products on %s: %s", device.type, "on" if ok else "off (inexact, failing or slower)")
    return ok


def count_product(a: torch.Tensor, b: torch.Tensor, bound: int) -> torch.Tensor:
    """a^T b of two integer-valued count matrices (N, m) and (N, n), exactly, as float32 (or
    ``a``'s floating dtype).

    Pulse counts are small integers (|values| <= ``bound``): where they fit int8 and the sums
    int32 (N bound^2 < 2^31), the product runs on int8 operands with int32 sums (exact; on CPUs
    with VNNI about 4x a float32 product), else, or where the device's int8 kernel fails its
    probe or is slower (:func:`_int8_ok`; AVX2-only CPUs), in float (exact below 2^24).
    """
    dtype = a.dtype if a.is_floating_point() else torch.float32
    fits = bound <= 127 and a.shape[0] * bound * bound < 2**31
    if fits and min(a.shape[1], b.shape[1]) >= _INT8_MIN and _int8_ok(a.device):
        try:
            return torch._int_mm(a.T.to(torch.int8), b.to(torch.int8)).to(dtype)
        except (RuntimeError, NotImplementedError):  # a shape the kernel rejects: float from then on
            _INT8[a.device.type] = False
    return a.T.to(dtype) @ b.to(dtype)


def _up_down(
    n_d: torch.Tensor, d: torch.Tensor | None, n_x: torch.Tensor, x: torch.Tensor | None, scale: float, bound: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(SET, RESET) counts scale * sum_k n_d[k]^T n_x[k] where sign(d x) is + / -.

    ``n_d`` (N, out) and ``n_x`` (N, in) are whole pulse counts (0 to ``bound``) per line; ``d``
    and ``x`` their signs' sources, None where all are >= 0. Non-negative x (images, ReLU outputs)
    needs one product: d's sign alone splits the columns into SET and RESET halves.
    """
    out = n_d.shape[1]
    signed_d = n_d if d is None else torch.copysign(n_d, d)
    if x is None:
        split = torch.cat([signed_d.clamp_min(0), signed_d.neg().clamp_min_(0)], 1)
        both = count_product(split, n_x, bound).mul_(scale)  # (2 out, in): SET counts above, RESET below
        return both[:out], both[out:]
    total = count_product(n_d, n_x, bound).mul_(scale / 2)
    net = count_product(signed_d, torch.copysign(n_x, x), bound).mul_(scale / 2)
    return total + net, total.sub_(net)
