"""One analog MVM as the chip does it, on a stack of tiles at once, with event counts.

DAC (input planes) -> array (column currents, read noise) -> sensing (current or voltage mode)
-> ADC (full scale, bits) -> digital (shift-add of planes, sign phases, scale, partial-sum
accumulation over row tiles). The array product itself is supplied by the caller as an
:class:`ArrayOp` (a batched matmul for Linear, a grouped convolution for Conv), so one code path
serves every layer type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from reram.array.mvm import floating_line_V
from reram.array.noise import has_line_noise, line_variance
from reram.config import Config, DACConfig
from reram.periphery import adc_levels, encode_inputs, percentile_abs
from reram.periphery.adc import (
    correct_,
    distort_,
    max_abs,
    sampling_unit,
    sampling_variance,
    to_codes_,
    to_codes_dnl_,
)
from reram.periphery.dac import InputPlanes, driven_values
from reram.periphery.neuron import integrate
from reram.rng import gaussian_like

log = logging.getLogger(__name__)


class ArrayOp(Protocol):
    """The array product of a tile stack, for a flat batch of input planes (volts)."""

    def currents(self, v_V: torch.Tensor) -> torch.Tensor:
        """(N, tiles, cols, *spatial) column currents (amperes) for row voltages ``v_V``."""
        ...

    def square_sums(self, v_sq: torch.Tensor) -> torch.Tensor:
        """(N, tiles, 1, *spatial) sum over each tile's rows of V**2 (volts squared)."""
        ...

    @property
    def g_row_S(self) -> torch.Tensor:
        """(row tiles, rows, column tiles) conductance on each input row of each array, both
        cells of every pair (siemens).
        """
        ...

    def row_totals(self, a: torch.Tensor, g_row: torch.Tensor) -> torch.Tensor:
        """(row tiles, k) sum over inputs, output positions and rows of ``a`` x ``g_row[..., k]``.

        ``a`` has the inputs' shape; ``g_row`` is (row tiles, rows, k) (per-row weights).
        """
        ...

    def col_tile_sums(self, per_col: torch.Tensor) -> torch.Tensor:
        """(row tiles, cols) -> (row tiles, column tiles): sums over each array's columns."""
        ...


@dataclass
class PeripheryState:
    """Calibrated periphery of one tile stack (tensors are the owner's buffers).

    Attributes:
        x_range: input full scale (input units); 0 = not calibrated: per-batch max |x|.
        adc_fs: (tiles, cols) ADC full scale (amperes, or volts in voltage mode).
        gain: (tiles, cols) digital scale from ADC units back to output units per input unit.
        gsum_S: (tiles, cols) physical column conductance sums (siemens), voltage mode.
        calibrating: if True, update x_range and adc_fs from this batch (running max).
        first_batch: True on the first calibration batch (replaces instead of max).
        auto_adc: set the ADC full scale from this read's own signals (``periphery.adc.range``
            and ``percentile``), every read: on-chip training, whose weights change every step.
        adc_pattern: (2, tiles, cols) the converters' gain and offset fixed pattern, or None.
        x_min: this batch's smallest input (0-dim), when the caller has it (the DAC's sign test).

    """

    x_range: torch.Tensor
    adc_fs: torch.Tensor
    gain: torch.Tensor
    gsum_S: torch.Tensor
    calibrating: bool = False
    first_batch: bool = False
    auto_adc: bool = False
    adc_pattern: torch.Tensor | None = None
    x_min: torch.Tensor | None = None


def _running(buf: torch.Tensor, value: torch.Tensor, first: bool) -> None:
    buf.copy_(value if first else torch.maximum(buf, value))


def _input_range(x: torch.Tensor, state: PeripheryState, cfg: Config) -> torch.Tensor:
    """The DAC's full scale for this batch: calibrated, being calibrated, or the batch's max |x|."""
    if state.calibrating:
        _running(state.x_range, percentile_abs(x.reshape(1, -1), cfg.periphery.dac.percentile)[0], state.first_batch)
        return state.x_range
    if float(state.x_range) > 0:
        return state.x_range
    return x.detach().abs().amax().clamp_min(torch.finfo(x.dtype).tiny)


def _set_adc_range(signal: torch.Tensor, state: PeripheryState, cfg: Config) -> None:
    """Calibration of the ADC full scale: the configured percentile of |signal| per column or layer."""
    adc = cfg.periphery.adc
    if adc.percentile >= 100:  # the maximum: one reduction over the signal as it lies, no copy
        if adc.range == "column":
            dims = (0, *range(3, signal.dim()))
            fs = signal.detach().abs().amax(dim=dims)
        elif state.first_batch or state.auto_adc:  # one range for the layer, set: a fill
            state.adc_fs.fill_(max(max_abs(signal), torch.finfo(signal.dtype).tiny))
            return
        else:
            fs = torch.full_like(state.adc_fs, max_abs(signal))
    else:
        src = signal.detach().movedim(0, -1)  # (tiles, cols, *spatial, N): each column's samples last
        flat = torch.abs(src, out=src.new_empty(src.shape))  # |signal| and the copy to that order, one pass
        flat = flat.view(*state.adc_fs.shape, -1)
        if adc.range == "column":
            fs = percentile_abs(flat, adc.percentile, absolute=True)
        else:
            fs = percentile_abs(flat.view(1, -1), adc.percentile, absolute=True).expand_as(state.adc_fs)
    # a column that saw no signal (inputs always zero on its rows) takes the busiest column's range
    fs = torch.where(fs > 0, fs, fs.amax()).clamp_min(torch.finfo(signal.dtype).tiny)
    _running(state.adc_fs, fs, state.first_batch or state.auto_adc)


def analog_matmul(
    x: torch.Tensor,
    op: ArrayOp,
    state: PeripheryState,
    cfg: Config,
    gen: torch.Generator | None,
    spatial: int,
    on_read: Callable[[InputPlanes, torch.Tensor, torch.Tensor, torch.Tensor | None], None] | None = None,
    driven: list[torch.Tensor] | None = None,
    count_pulses: bool = True,
) -> torch.Tensor:
    """Run inputs ``x`` (N, ...) through the tile stack as the chip would.

    Args:
        x: inputs (input units), batch first.
        op: the array product of the tile stack.
        state: the stack's periphery state (calibration updates it in place).
        cfg: system config (DAC, ADC, read voltage, read noise).
        gen: generator for read noise.
        spatial: number of spatial dims after (tiles, cols) in the op's output.
        on_read: called as ``on_read(planes, read_pulses, cell_energy_J, wire_energy_J)`` for the
            event counts: the input planes (their count, conversions and timesteps), the non-zero
            row pulses per tile (tiles, 1) and the joules dissipated in the cells and in the
            wires per array (tiles, column groups; wires None when ideal).
        driven: if given, the inputs as the DAC drove them (input units) are appended to it.
        count_pulses: count the non-zero row pulses for ``on_read`` (False: zeros, for callers
            whose cost model prices every drive slot alike).

    Returns:
        (N, cols, *spatial) outputs in output units (weights x inputs), before bias.

    """
    dac, adc = cfg.periphery.dac, cfg.periphery.adc
    x_range = _input_range(x, state, cfg)
    # DAC: pulse planes, in volts
    planes = encode_inputs(x, x_range, dac, cfg.array.v_read_V, state.x_min)
    if driven is not None:
        driven.append(driven_values(planes, x_range, dac, cfg.array.v_read_V))
    v = planes.planes.flatten(0, 1)
    v0 = cfg.device.iv_v0_V
    view = (1, *state.adc_fs.shape) + (1,) * spatial
    # the neuron's sum of ohmic planes is linear in them: one product of the integrated drive
    fused = planes.slices is not None and v0 == 0
    kelvin = getattr(op, "read_K", None) or cfg.device.t_ref_K
    # one sample per conversion, current-sensed: its kT/C is the same for every output, added in
    # the line variance's product instead of a pass of its own
    ktc_folded = (planes.slices is None and adc.sensing == "current"
                  and cfg.device.read_noise_model == "physical" and adc.sample_cap_F > 0)  # fmt: skip
    v_sq = None
    if fused:
        i, var, weights, samples = _integrated_currents(planes, op, cfg)
    else:  # array: column currents of every plane (amperes) and their read noise's variance
        drive = v if v0 == 0 else v0 * torch.sinh(v / v0)  # a cell passes I = G v0 sinh(V / v0): ohmic at v0 = 0
        i = op.currents(drive)
        ktc = sampling_unit(adc, kelvin, cfg.array.t_pulse_s) if ktc_folded else 0.0
        # ohmic magnitude planes (one sign per phase): |V| = V, and V^2 serves the noise and the energy
        if v0 == 0 and dac.sign != "polarity" and (on_read is not None or has_line_noise(cfg)):
            v_sq = v * v
        var = line_variance(op, drive, v_sq, cfg, extra_A2=ktc)
    # the line noise is drawn with the sampling noise (one Gaussian per conversion) where only
    # linear steps lie between them; before the floating line of sinh cells or per-plane integration
    if var is not None and ((adc.sensing == "voltage" and v0) or (not fused and planes.slices is not None)):
        i.addcmul_(gaussian_like(i, gen), var.sqrt_())
        var = None
    joules = pulses = wire_J = None
    if on_read is not None:
        joules, pulses, wire_J = _read_energy(planes, v, op, cfg, count_pulses, v_sq)
    if adc.sensing == "voltage" and v0:  # floating line of sinh cells: sum G sinh((V - V_bl) / v0) = 0
        i.copy_(floating_line_V(i, op, v, state.gsum_S.view(view), v0))
    elif adc.sensing == "voltage":  # floating bit line: V = sum(V G) / sum(G)
        gsum = state.gsum_S.view(view)
        i.div_(gsum)
        if var is not None:
            g2 = gsum * gsum
            var = var.div_(g2) if var.shape == torch.broadcast_shapes(var.shape, g2.shape) else var / g2
        if joules is not None and wire_J is None:  # ideal wires: sum G (V - V_bl)^2 = sum G V^2 - V_bl^2 sum G
            pairs = op.floating_pairs() if hasattr(op, "floating_pairs") else None
            if pairs is None:
                bl = _line_V_squared(i, planes, op, gsum, fused, spatial)
                joules = joules - op.col_tile_sums(bl * state.gsum_S).double()
            for line_op, g_line in pairs or []:  # two floating lines per output: each at its own V_bl
                bl = _line_V_squared(i, planes, line_op, g_line.view(view), True, spatial)
                joules = joules - op.col_tile_sums(bl * g_line).double()
    if not fused:
        weights, samples = planes.weights, [1] * len(planes.weights)
        if planes.slices is not None:  # the neuron integrates the planes' charge, then converts once per slice
            i, weights = integrate(i, planes)
            samples = [sum(planes.repeats[p] for p in group) for group in planes.slices]
    if cfg.device.read_noise_model == "physical" and adc.sample_cap_F > 0 and not ktc_folded:  # kT/C on every sample
        per_sample = sampling_variance(samples, i.shape[0], adc, kelvin, cfg.array.t_pulse_s, i)
        var = per_sample if var is None else var.add_(per_sample)  # var is this read's own tensor
    if var is not None:  # line and sampling noise, independent Gaussians: one draw of their sum
        i.addcmul_(gaussian_like(i, gen), var.sqrt_())
    if state.calibrating or state.auto_adc:
        _set_adc_range(i, state, cfg)
    # ADC: integer codes; the step size is folded into the digital scale below
    step = state.adc_fs / adc_levels(adc.bits)
    if adc.inl_lsb or state.adc_pattern is not None:
        distort_(i, state.adc_fs, state.adc_pattern, adc, view)
    if adc.noise_lsb > 0:  # the comparator's input-referred noise, every conversion
        i.addcmul_(gaussian_like(i, gen), step.view(view), value=adc.noise_lsb)
    if state.adc_pattern is not None and state.adc_pattern.shape[0] > 2:  # the converters' DNL
        codes = to_codes_dnl_(i, step.view(view), adc.bits, state.adc_pattern[2:])
    else:
        codes = to_codes_(i, step.view(view), adc.bits)
    codes = correct_(codes, state.adc_pattern, adc, view)
    if on_read is not None:
        assert joules is not None and pulses is not None
        on_read(planes, pulses, joules * cfg.array.t_pulse_s, wire_J)
    return _digital_sum(codes, weights, step * state.gain, x_range, dac, view)


def _integrated_currents(
    planes: InputPlanes, op: ArrayOp, cfg: Config
) -> tuple[torch.Tensor, torch.Tensor | None, list[float], list[int]]:
    """The integrated line currents of each slice from one product (ohmic cells).

    The neuron sums plane j's settled line ``repeats[j]`` times, so a slice's signal is
    sum_j r_j (v_j @ G) = (sum_j r_j v_j) @ G, and its read noise, drawn once per plane and
    integrated with it, is Gaussian with variance sum_j r_j^2 var_j: the same distribution as
    reading the planes one by one (:func:`reram.periphery.neuron.integrate`), at one product.

    Returns:
        (slices * N, tiles, cols, ...) integrated noiseless currents (amperes x timesteps), the
        variance of their read noise (broadcastable; None without noise), the slices' digital
        weights and their samples per conversion.

    """
    assert planes.slices is not None
    drive, v_abs, v_sq, reads, weights, samples = [], [], [], [], [], []
    for group in planes.slices:
        r = [planes.repeats[p] for p in group]
        p0 = planes.planes[group[0]]
        d, a, s = p0 * r[0], p0.abs() * (r[0] ** 2), p0 * p0 * (r[0] ** 2)
        for p, rep in zip(group[1:], r[1:], strict=True):
            plane = planes.planes[p]
            d.add_(plane, alpha=rep)
            a.add_(plane.abs(), alpha=rep**2)
            s.addcmul_(plane, plane, value=rep**2)
        drive.append(d)
        v_abs.append(a)
        v_sq.append(s)
        reads.append(float(sum(rep**2 for rep in r)))
        weights.append(planes.weights[group[0]] / r[0])
        samples.append(sum(r))

    def joined(parts: list[torch.Tensor]) -> torch.Tensor:
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    i = op.currents(joined(drive))
    n = planes.planes.shape[1]
    thermal: float | torch.Tensor = reads[0]
    if len(set(reads)) > 1:
        thermal = torch.tensor(reads, dtype=i.dtype, device=i.device).repeat_interleave(n)
        thermal = thermal.view(-1, *([1] * (i.dim() - 1)))
    return i, line_variance(op, joined(v_abs), joined(v_sq), cfg, reads=thermal), weights, samples


def _read_energy(
    planes: InputPlanes, v: torch.Tensor, op: ArrayOp, cfg: Config, count_pulses: bool, v_sq: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Cell joules x t^-1 per array with the bit lines at 0 V (sum V^2 G, one pulse per plane, or
    the solved node voltages' forms of a wired array), the non-zero row pulses per tile, and the
    wires' joules (None when ideal). ``v_sq``: V^2 of ohmic planes when the caller has it.
    """
    g_row, wire_J = op.g_row_S, None
    v0 = cfg.device.iv_v0_V
    solved = op.read_energy(v) if hasattr(op, "read_energy") else None
    if solved is not None:  # a wired array: the solved node voltages' quadratic forms (reram.array.energy)
        joules, wire_J = solved[0].double(), solved[1].double() * cfg.array.t_pulse_s
    else:  # the power a cell dissipates per siemens: I V / G, V^2 when ohmic, summed over the planes
        power = v_sq if v_sq is not None else v * v if v0 == 0 else v * (v0 * torch.sinh(v / v0))
        joules = op.row_totals(_batch_sum(power), g_row).double()
    if count_pulses:  # pulsed slots, summed over planes and inputs
        nonzero = _batch_sum(torch.ne(v, 0).view(torch.uint8), torch.int32).to(v.dtype)
        pulses = op.row_totals(nonzero, torch.ones_like(g_row[..., :1]))
    else:
        pulses = torch.zeros(g_row.shape[0], 1, dtype=v.dtype, device=v.device)
    return joules, pulses, wire_J


def _batch_sum(t: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """(1, ...) sum over dim 0 of a dense ``t``, reduced in its memory order (a channels-last
    activation summed over its batch as one (N, -1) view: several times faster than ``sum(0)``).
    """
    if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
        n, c, h, w = t.shape
        return t.permute(0, 2, 3, 1).reshape(n, -1).sum(0, dtype=dtype).view(1, h, w, c).permute(0, 3, 1, 2)
    if t.is_contiguous():
        return t.reshape(t.shape[0], -1).sum(0, dtype=dtype).view(1, *t.shape[1:])
    return t.sum(0, keepdim=True, dtype=dtype)


ENERGY_SAMPLE = 4096  # integrated voltage-mode reads: output positions re-read plane by plane for the energy


def _line_V_squared(
    i: torch.Tensor, planes: InputPlanes, op: ArrayOp, gsum: torch.Tensor, fused: bool, spatial: int
) -> torch.Tensor:
    """(tiles, cols) sum over the reads of each floating line's V_bl^2 (volts squared), per plane.

    Read plane by plane, the sensed voltages are those lines. Integrated in one product
    (:func:`_integrated_currents`), the planes' own noiseless line voltages are summed exactly
    for matrix products (``output_square_sums``: the inputs' Gram matrix); for convolutions they
    are re-read for every input while the batch has at most ``ENERGY_SAMPLE`` output positions
    (exact), else for an evenly spaced subset of the images with at least that many, scaled to
    the batch (an estimate: a few per cent per column, less per array).
    """

    def squares(bl: torch.Tensor) -> torch.Tensor:
        sq = bl * bl
        if not spatial:
            return sq.sum(0)
        last = sq.movedim(2, -1).movedim(1, -2)  # (N, *spatial, tiles, cols): channels-last memory, a view
        if last.is_contiguous():  # one reduction over the outer dims, in memory order
            return last.reshape(-1, sq.shape[1] * sq.shape[2]).sum(0).view(sq.shape[1], sq.shape[2])
        return sq.sum(0).flatten(2).sum(-1)

    if not fused:
        return squares(i)
    if hasattr(op, "output_square_sums"):  # exact, from the inputs' Gram matrix where that is cheaper
        return op.output_square_sums(planes.planes.flatten(0, 1)) / (gsum[0] * gsum[0])
    n = planes.planes.shape[1]
    positions = max(1, i[0, 0, 0].numel())
    stride = max(1, n * positions // ENERGY_SAMPLE)
    sub = planes.planes[:, ::stride]
    if stride > 1:
        log.debug("voltage-mode plane energy estimated from %d of %d inputs", sub.shape[1], n)
    return squares(op.currents(sub.flatten(0, 1)).div_(gsum)) * (n / sub.shape[1])


def _digital_sum(
    codes: torch.Tensor, weights: list[float], unit: torch.Tensor, x_range: torch.Tensor, dac: DACConfig, view: tuple
) -> torch.Tensor:
    """Digital side: shift-add the planes' codes, scale to output units, accumulate the tiles' partial sums.

    Args:
        codes: (planes * N, tiles, cols, *spatial) ADC codes.
        weights: the planes' recombination weights.
        unit: (tiles, cols) output units per code per unit input.
        x_range: the DAC's full scale (input units).
        dac: the DAC (bit-serial plane weights count input codes).
        view: shape that broadcasts a (tiles, cols) tensor over the codes of one plane.

    """
    n_planes = len(weights)
    codes = codes.view(n_planes, -1, *codes.shape[1:])
    y = codes[0]
    if n_planes > 1:
        y = y * weights[0]
        for p in range(1, n_planes):
            y.add_(codes[p], alpha=weights[p])
    scale = (unit * (x_range * weights[0] if n_planes == 1 else x_range)).view(view)
    if dac.bit_serial:  # plane weights 2**j count input codes; codes / (2**m - 1) = x / x_range
        scale = scale / (2**dac.magnitude_bits - 1)
    return _tile_sum(y, scale)


def _tile_sum(y: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Sum over the row tiles (dim 1) of ``y`` x ``scale``: the tiles' partial sums, accumulated
    digitally, one multiply-add per tile into the output (a reduction over the tiles' dim runs
    3-20x slower on a convolution's channels-last output, and 5x on a GPT-sized stack of 24
    tiles); the same order of additions whatever the batch, so a read in chunks equals one read.
    """
    if y.shape[1] == 1:  # in place: the codes are this read's own tensor (a new output would fault in fresh pages)
        return y[:, 0].mul_(scale[:, 0])
    out = torch.mul(y[:, 0], scale[:, 0])
    for k in range(1, y.shape[1]):
        out.addcmul_(y[:, k], scale[:, k])
    return out
