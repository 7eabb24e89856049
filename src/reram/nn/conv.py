"""Convolutions on cores: the tiles hold the kernel reshaped to (Cin * k) x Cout.

Where the non-idealities act per tile on the weights (programming error, levels) and per output
on the currents (read noise, ADC), a grouped convolution with the programmed per-tile kernels
followed by the per-output periphery is exact and needs no im2col tensor (DESIGN.md s.7).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reram.config import Config
from reram.core import ENERGY_SAMPLE
from reram.mapping import tile_matrix
from reram.nn.layers import AnalogLayer, _TileOp, log


class _ConvOp(_TileOp):
    layer: AnalogConvNd

    def __init__(self, layer: AnalogConvNd, line: int | None = None):
        self.layer = layer

        def make() -> torch.Tensor:  # (tiles, rows, cols) -> grouped-conv kernel
            return self._kernel_of(layer.gdiff() if line is None else layer.branch_S()[line])

        self.kernel = layer.cached("kernel" if line is None else f"kernel_line{line}", make)
        self.read_K = layer.read_K

    def floating_pairs(self) -> list[tuple[_ConvOp, torch.Tensor]] | None:
        """The two floating bit lines of each output (voltage sensing on differential columns):
        the G+ and G- lines' own products and conductances (tiles, cols; siemens); else None.
        """
        if not self.layer.floating_columns():
            return None
        b = self.layer.branch_S()
        return [(_ConvOp(self.layer, k), b[k].sum(1).clamp_min(1e-30)) for k in (0, 1)]

    def _kernel_of(self, m: torch.Tensor) -> torch.Tensor:
        g, k_shape = self.layer.grid, self.layer.weight.shape[2:]
        return m.permute(0, 2, 1).reshape(g.n_row * g.out_features, g.rows_pad // g.kernel, *k_shape)

    def _conv(self, v: torch.Tensor, w: torch.Tensor, groups: int, bias: torch.Tensor | None = None) -> torch.Tensor:
        m = self.layer
        return m._conv_fn(v, w, bias, m.stride, m.padding, m.dilation, groups)

    def currents(self, v_V: torch.Tensor) -> torch.Tensor:
        t = self.layer.grid.n_row
        v = self.layer._group(v_V, channels_last=t > 1)  # oneDNN's grouped convolutions are fastest channels-last
        y = self._conv(v, self.kernel, t)
        return y.view(y.shape[0], t, -1, *y.shape[2:])

    def cell_sums(self, a: torch.Tensor, kind: str) -> torch.Tensor:
        """(N, tiles, cols, *spatial) sum over each tile's window of ``a`` x the cells' G^2 or G."""
        layer = self.layer
        kernel = layer.cached(f"kernel_{kind}", lambda: self._kernel_of(layer.noise_cells()[kind]))
        t = layer.grid.n_row
        y = self._conv(layer._group(a, channels_last=t > 1), kernel, t)
        return y.view(y.shape[0], t, -1, *y.shape[2:])

    def variance_sums(
        self, a: torch.Tensor, b: torch.Tensor | None, c_tot: float, c_sq: float, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(N, tiles, cols, *spatial) sum over each tile's window of c_tot ``a`` G + c_sq ``b``
        G^2 (``b`` None: ``a`` is the drive V, the terms |V| and V^2), as one grouped
        convolution: each tile's two inputs stacked in one channels-last operand, the kernels
        stacked and scaled once per programmed state; ``bias`` (tiles, cols), if given, added to
        every output as the convolution's bias (the lines' thermal variance: no pass of its own).
        """
        layer = self.layer
        g = layer.grid
        t, cr = g.n_row, g.rows_pad // g.kernel

        def make() -> torch.Tensor:
            cells = layer.noise_cells()
            return torch.cat([self._kernel_of(cells["g_tot"]) * c_tot, self._kernel_of(cells["g_sq"]) * c_sq], dim=1)

        kernel = layer.cached(f"kernel_variance_{c_tot!r}_{c_sq!r}", make)
        n, c, spatial = a.shape[0], a.shape[1], a.shape[2:]
        buf = a.new_empty(n, *spatial, t, 2, cr)  # channels last: each tile's |V| (or a), then V^2 (or b)
        if t * cr > c:  # the last tile's unused rows: zero (its block is contiguous at each position)
            buf[..., -1, :, :].zero_()
        a_last = a.movedim(1, -1)
        b_last = None if b is None else b.movedim(1, -1)
        for k in range(t):
            lo, hi = k * cr, min(c, (k + 1) * cr)
            src = a_last[..., lo:hi]
            if b_last is None:
                torch.abs(src, out=buf[..., k, 0, : hi - lo])
                torch.mul(src, src, out=buf[..., k, 1, : hi - lo])
            else:
                buf[..., k, 0, : hi - lo].copy_(src)
                buf[..., k, 1, : hi - lo].copy_(b_last[..., lo:hi])
        y = self._conv(buf.view(n, *spatial, t * 2 * cr).movedim(-1, 1), kernel, t,
                       None if bias is None else bias.reshape(-1).to(kernel.dtype))  # fmt: skip
        return y.view(y.shape[0], t, -1, *y.shape[2:])

    def line_conductance_S(self) -> torch.Tensor:
        """(tiles, cols) conductance of every cell on each sensed line (siemens)."""
        return self.layer.cached("line_S", lambda: self.layer.noise_cells()["g_tot"].sum(1))

    def square_sums(self, v_sq: torch.Tensor) -> torch.Tensor:
        # sum V^2 over each tile's channels first, then over the kernel window (depthwise)
        t = self.layer.grid.n_row
        per_tile = self.layer._group(v_sq).view(v_sq.shape[0], t, -1, *v_sq.shape[2:]).sum(2)
        ones = self.kernel.new_ones(t, 1, *self.kernel.shape[2:])
        return self._conv(per_tile, ones, t).unsqueeze(2)

    @property
    def solves_energy(self) -> bool:
        """Whether reads count their energy from the arrays' solved forms (exact IR drop)."""
        return self.layer.wired_energy()

    def read_energy(self, v_V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(cells, wires) power x time^-1 of the reads per array (tiles, column groups): the sum
        over every input window of v^T M v with each array's solved forms, as sum(M * H) with H
        the windows' Gram matrix per tile (watts); None with ideal wires.
        """
        if not self.solves_energy:
            return None
        forms = self.layer.energy_forms().to(v_V.dtype)  # (2, tiles, groups, rows, rows)
        both = (forms * self._window_gram(v_V)[None, :, None]).sum((-1, -2))
        return both[0], both[1]

    def _window_gram(self, v: torch.Tensor, max_floats: int = 1 << 24) -> torch.Tensor:
        """(tiles, rows, rows) sum over the batch's input windows of w w^T, per tile's rows (the
        windows unfolded a few images at a time): exact up to ``ENERGY_SAMPLE`` windows, beyond
        from an evenly spaced subset of the images with at least that many, scaled to the batch
        (an estimate, as the voltage-mode plane energy of convolutions: ``reram.core``).
        """
        layer = self.layer
        g = layer.grid
        t, r = g.n_row, g.rows_pad
        x = layer._group(v)  # channels padded to whole tiles: each tile's rows are whole windows
        k, st, dil = tuple(layer.kernel_size), tuple(layer.stride), tuple(layer.dilation)
        if layer.padding == "same":  # torch's "same": the extra pad, if any, on the far side
            total = [d * (kk - 1) for d, kk in zip(dil, k, strict=True)]
            pads = [p for tot in reversed(total) for p in (tot // 2, tot - tot // 2)]
        else:
            pads = [p for p in reversed((0,) * len(k) if layer.padding == "valid" else layer.padding) for _ in (0, 1)]
        x = F.pad(x, pads)
        if x.dim() == 3:  # Conv1d as a 2-d window of height 1
            x, k, st, dil = x.unsqueeze(2), (1, *k), (1, *st), (1, *dil)
        n = x.shape[0]
        windows = int(np.prod(self.layer._out_spatial))
        sub = x[:: max(1, n * windows // ENERGY_SAMPLE)]  # beyond ENERGY_SAMPLE windows: evenly spaced images
        if sub.shape[0] < n and not layer._logged_energy_sample:
            log.info("layer %d: wired read energy estimated from %d of %d images per batch", layer.index,
                     sub.shape[0], n)  # fmt: skip
            layer._logged_energy_sample = True
        gram = x.new_zeros(t, r, r)
        per_image = x[0].numel() * int(np.prod(k))
        step = max(1, max_floats // max(per_image, 1))
        for a in range(0, sub.shape[0], step):
            u = F.unfold(sub[a : a + step], k, dilation=dil, stride=st)  # (n, tiles * rows, windows)
            u = u.view(u.shape[0], t, r, -1).permute(1, 2, 0, 3).reshape(t, r, -1)
            gram.add_(torch.bmm(u, u.transpose(1, 2)))
        return gram.mul_(n / sub.shape[0])

    def row_totals(self, a: torch.Tensor, g_row: torch.Tensor) -> torch.Tensor:
        t, r, k = g_row.shape
        w = g_row.permute(0, 2, 1).reshape(t * k, r // self.layer.grid.kernel, *self.kernel.shape[2:])
        y = self._conv(self.layer._group(a.sum(0, keepdim=True)), w.contiguous(), t)
        return y.flatten(2).sum((0, 2)).view(t, k)


class AnalogConvNd(AnalogLayer):
    """Convolutions on cores: tiles hold the kernel reshaped to (Cin*k) x Cout."""

    _conv_fn: Any = None
    _float_type: Any = nn.Module
    _logged_energy_sample: bool = False  # the wired energy's image sampling logged once
    stride: Any
    padding: Any
    dilation: Any
    kernel_size: Any
    _out_spatial: tuple[int, ...]

    @classmethod
    def from_float(cls, m: nn.Module, config: Config, index: int, state_dtype: str = "float32") -> AnalogConvNd:
        """Wrap a float convolution (groups=1, zero padding); parameters are shared."""
        assert isinstance(m, (nn.Conv1d, nn.Conv2d))
        k = int(np.prod(m.kernel_size))
        grid = tile_matrix(m.in_channels * k, m.out_channels, config.array, kernel=k)
        layer = cls(m.weight, m.bias, config, grid, index, state_dtype)  # type: ignore[arg-type]
        layer.stride, layer.padding, layer.dilation = m.stride, m.padding, m.dilation
        layer.kernel_size = m.kernel_size
        return layer

    def _spatial(self) -> int:
        return self.weight.dim() - 2

    def _positions_per_vector(self, flat: torch.Tensor) -> int:
        return int(np.prod(self._out_spatial))

    def reference_input_shape(self) -> tuple[int, ...]:
        """One window: (C_in, *kernel_size), the rows of every tile driven once per output."""
        return (self.weight.shape[1], *self.weight.shape[2:])

    def _op(self, x: torch.Tensor) -> Any:
        if x.dim() != self.weight.dim() or x.shape[1] != self.weight.shape[1]:
            raise ValueError(
                f"input of shape {tuple(x.shape)}: this layer takes (batch, {self.weight.shape[1]} channels, "
                f"{self.weight.dim() - 2} spatial dims)"
            )
        op = _ConvOp(self)
        sp = x.shape[2:]
        pad = (0,) * len(sp) if self.padding == "valid" else self.padding
        if isinstance(pad, str):  # "same"
            self._out_spatial = tuple(sp)
        else:
            self._out_spatial = tuple(
                (s + 2 * p - d * (k - 1) - 1) // st + 1
                for s, p, d, k, st in zip(sp, pad, self.dilation, self.kernel_size, self.stride, strict=True)
            )
        return op, x, lambda y: y

    def _float(self, x: torch.Tensor) -> torch.Tensor:
        return type(self)._conv_fn(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def to_float(self) -> nn.Module:
        """A float convolution holding this layer's parameters."""
        m = self._float_type(
            self.weight.shape[1],
            self.weight.shape[0],
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            bias=self.bias is not None,
            device="meta",
        )
        m.weight, m.bias = self.weight, self.bias
        return m


class AnalogConv1d(AnalogConvNd):
    """``nn.Conv1d`` on cores."""

    _conv_fn = staticmethod(F.conv1d)
    _float_type = nn.Conv1d


class AnalogConv2d(AnalogConvNd):
    """``nn.Conv2d`` on cores."""

    _conv_fn = staticmethod(F.conv2d)
    _float_type = nn.Conv2d
