"""Analog layers: the common machinery, and Linear (convolutions: :mod:`reram.nn.conv`).

Each layer keeps its real ``weight`` (and ``bias``) parameters, so any torch optimizer works, and
holds the chip's state in buffers: the programmed conductance pairs of its tiles, which cells are
frozen (stuck or unused), the calibrated periphery and its age. The chip state changes only by
``program()`` (write the present weights) and ``age()`` (relaxation), as on a real chip.
Gradients pass straight through the analog forward (the float product's gradient).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reram import device as cell
from reram.array import StackOp, row_grouping, target_blocks, target_conductances
from reram.config import Config
from reram.core import PeripheryState
from reram.events import TileEvents
from reram.mapping import TileGrid, TileSite, tile_matrix
from reram.nn import reads
from reram.nn.cell_state import CellState, check_state_dtype
from reram.nn.cell_views import CellViews
from reram.nn.programming import program_layer
from reram.periphery.adc import adc_levels, mismatch
from reram.periphery.dac import plane_counts

log = logging.getLogger(__name__)


def _generator(seed: int, index: int, stream: int, device: torch.device) -> torch.Generator:
    mixed = int(np.random.SeedSequence([seed, index, stream]).generate_state(1)[0])
    return torch.Generator(device=device).manual_seed(mixed)


class AnalogLayer(CellViews, CellState, nn.Module):
    """Common machinery of the analog layers (tiles, programming, ageing, periphery).

    Args:
        weight, bias: the float module's parameters (kept, not copied).
        config: the system this layer runs on.
        grid: how the layer's matrix is tiled.
        index: the layer's position in the network (seeds its randomness).
        state_dtype: how the cells' conductances are stored (``reram.nn.cell_state``).

    """

    gain: torch.Tensor
    gsum_S: torch.Tensor
    adc_fs: torch.Tensor
    adc_pattern: torch.Tensor
    x_range: torch.Tensor
    age_eq_s: torch.Tensor
    read_stress_s: torch.Tensor
    programmed: torch.Tensor
    calibrated: torch.Tensor
    out_scale: torch.Tensor
    compensated: bool
    drift_reference: tuple[torch.Tensor, torch.Tensor] | None = None
    bias: nn.Parameter | None

    def __init__(self, weight: nn.Parameter, bias: nn.Parameter | None, config: Config, grid: TileGrid, index: int,
                 state_dtype: str = "float32"):  # fmt: skip
        super().__init__()
        self.weight = weight
        self.bias = bias
        self.config = config
        self.grid = grid
        self.index = index
        t, r, c = grid.n_row, grid.rows_pad, grid.out_features
        kw: dict[str, Any] = {"device": weight.device, "dtype": weight.dtype}
        dtype = weight.dtype if state_dtype == "float32" else check_state_dtype(state_dtype)
        for name, buf in self.state_buffers((2, t, r, c), weight.device, dtype).items():  # cells; frozen
            self.register_buffer(name, buf)
        self.register_buffer("gain", torch.ones(t, c, **kw))
        self.register_buffer("gsum_S", torch.ones(t, c, **kw))
        self.register_buffer("adc_fs", torch.ones(t, c, **kw))
        dnl_rows = 2 * adc_levels(config.periphery.adc.bits) if config.periphery.adc.dnl_lsb else 0
        pattern = torch.cat([torch.ones(1, t, c, **kw), torch.zeros(1 + dnl_rows, t, c, **kw)])
        self.register_buffer("adc_pattern", pattern)  # gain, offset (LSB), then the DNL's transitions
        self.register_buffer("x_range", torch.zeros((), **kw))
        self.register_buffer("age_eq_s", torch.zeros((), dtype=torch.float64, device=weight.device))
        self.register_buffer("read_stress_s", torch.zeros((), dtype=torch.float64, device=weight.device))
        self.register_buffer("programmed", torch.zeros((), dtype=torch.bool, device=weight.device))
        self.register_buffer("calibrated", torch.zeros((), dtype=torch.bool, device=weight.device))
        self.register_buffer("out_scale", torch.ones(c, **kw))  # digital drift compensation (nn.compensate)
        self.events = TileEvents(grid.tiles(), grid.cells_per_weight_row, grid.cells_per_weight_col)
        self.sites: list[TileSite] = []
        self.program_failures = 0
        self.remapped_rows = 0  # rows written onto spare rows at the last programming
        self.remapped_cols = 0  # columns written onto spare columns at the last programming
        self.program_pulses = 0  # programming pulses of the last programming (cost.programming_cost)
        self.programmed_cells = 0  # cells holding a weight at the last programming
        self.program_iterations = 0  # write-verify iterations of the last programming
        self.digital = False  # True: run as the float layer (not yet on the chip)
        self.positions = 1  # output positions per sample, seen at the last forward
        self.input_elements = grid.in_features  # input elements per sample, seen at the last forward
        self._calibrating = False
        self._warned_first_order = False  # ir_drop = "approx" beyond its range, logged once
        self._first_batch = False
        self._read_since_calibration = False
        self.read_K: float | None = None  # temperature at read (None: the device's t_ref_K)
        self.compensated = False  # out_scale differs from 1 (reram.nn.compensate)
        self._gens: dict[int, torch.Generator] = {}
        self._cache: dict[str, tuple[Any, torch.Tensor]] = {}
        self._reading = False  # a forward pass is running (``cached``)
        self._pad_channels = (grid.n_row * grid.rows_pad - grid.in_features) // grid.kernel

    # ----- matrix view of the weights (rows = inputs, columns = outputs) -----
    def weight_matrix(self) -> torch.Tensor:
        """The weights as the crossbar sees them: (in_features, out_features)."""
        return self.weight.reshape(self.weight.shape[0], -1).T

    def cached(self, name: str, make: Any) -> torch.Tensor:
        """A tensor derived from the conductances, rebuilt only when they change (program, age,
        load, move). With float16 storage (``compact``: memory first) kept only while a forward
        pass runs, then dropped: each pass builds what it reads, once for all its chunks.
        """
        if self.compact and not self._reading:
            return make()
        g = self.g_cells
        cols = None if self._cols is None else (self._cols.start, self._cols.stop)
        key = (g._version, g.data_ptr(), g.device, g.dtype, self.read_K, cols)
        hit = self._cache.get(name)
        if hit is None or hit[0] != key:
            hit = (key, make())
            self._cache[name] = hit
        return hit[1]

    def _gen(self, stream: int) -> torch.Generator:
        dev = self.g_cells.device
        gen = self._gens.get(stream)
        if gen is None or gen.device != dev:
            gen = _generator(self.config.seed, self.index, stream, dev)
            self._gens[stream] = gen
        return gen

    def _group(self, x: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
        """Pad input channels (dim 1) so that every row tile gets rows_pad rows (only the last is short)."""
        fmt = torch.channels_last if channels_last and x.dim() == 4 else torch.contiguous_format
        if not self._pad_channels:
            return x.contiguous(memory_format=fmt)
        c = x.shape[1]
        out = torch.empty(
            (x.shape[0], c + self._pad_channels, *x.shape[2:]), dtype=x.dtype, device=x.device, memory_format=fmt
        )
        out[:, :c].copy_(x)
        out[:, c:].zero_()
        return out

    # ----- the chip's life: program, age -----
    def conductance_targets(self) -> tuple[Any, torch.Tensor]:
        """The mapping of the present weights: (TileConductances with the per-weight scale,
        (2, tiles, rows, cols) target conductances in siemens after the device's levels; 0 = unused).
        """
        mask = self.grid.row_mask(self.weight.device)
        cfg = self.config
        w = self.grid.pack(self.weight_matrix())
        return target_conductances(w, mask, cfg.array, cfg.device, self.grid.col_tile)

    def target_blocks(self) -> Any:
        """:meth:`conductance_targets` a block of arrays at a time (``reram.array.target_blocks``):
        (tiles, cols, siemens per unit weight, targets) without the whole layer's temporaries.
        """
        g, cfg, w = self.grid, self.config, self.weight_matrix()
        shape = (g.n_row, g.rows_pad, g.out_features)
        mask = g.row_mask(self.weight.device)
        return target_blocks(lambda t, c: g.pack_block(w, t, c), shape, mask, cfg.array, cfg.device, g.col_tile)

    def target_conductances(self) -> torch.Tensor:
        """(2, tiles, rows, cols) target conductances (siemens) after the device's levels; 0 = unused."""
        return self.conductance_targets()[1]

    def stuck_map(self) -> cell.StuckMap | None:
        """The stuck cells of this layer's arrays, spares included (None: the device has none):
        a property of the chip and its seed, the same at every programming.
        """
        cfg = self.config
        if cfg.device.stuck_low_rate + cfg.device.stuck_high_rate == 0:
            return None
        g, arr = self.grid, cfg.array
        lay = cell.ArrayLayout(g.n_row, g.rows_pad, g.out_features, g.col_tile, arr.differential, arr.spare_rows,
                               arr.spare_cols)  # fmt: skip
        dev = self.g_cells.device
        return cell.stuck_map(lay, cfg.device, lambda k: _generator(cfg.seed, self.index, 10 + k, dev), dev)

    @torch.no_grad()
    def program(self, seed: int | None = None) -> None:
        """Write the present weights into the cells (write-verify, faults, spread).

        Args:
            seed: programming seed; default the config's seed. Read noise and ageing are reseeded.

        """
        cfg = self.config
        if seed is not None and seed != cfg.seed:
            self.config = cfg = replace(cfg, seed=seed)
        self._gens.clear()
        program_layer(self)  # the cells written, the periphery set from the targets
        pattern = mismatch(tuple(self.adc_fs.shape), cfg.periphery.adc, self._gen(4), self.adc_fs)
        if pattern is not None:  # the converters' fixed pattern, one draw per chip (seeded)
            self.adc_pattern.copy_(pattern)
        self.age_eq_s.zero_()
        self.read_stress_s.zero_()
        self.out_scale.fill_(1.0)
        self.compensated = False
        self.programmed.fill_(True)

    @torch.no_grad()
    def age(self, seconds: float, kelvin: float | None = None) -> None:
        """Let the programmed cells relax for ``seconds`` at ``kelvin`` (default: the device's t_ref_K)."""
        if not bool(self.programmed):
            raise RuntimeError("age() needs programmed cells: call program() first")
        dev = self.config.device
        t0 = float(self.age_eq_s)
        t1 = t0 + cell.equivalent_time_s(seconds, dev.t_ref_K if kelvin is None else kelvin, dev)
        g_prog = self.g_prog_S
        self.move_cells(cell.relax(self.g_S, g_prog, self.frozen, t0, t1, dev, self._gen(2)), g_prog)
        self.gsum_S.copy_(self.branch_col_sums().clamp_min(1e-30))
        self.age_eq_s.fill_(t1)

    @torch.no_grad()
    def disturb(self, reads: float, duty: float = 0.5) -> None:
        """Apply the read disturb of ``reads`` more reads of every cell, a share ``duty`` of them
        non-zero pulses, at the array's read voltage and pulse width (``reram.device.disturb``).
        """
        if not bool(self.programmed):
            raise RuntimeError("disturb() needs programmed cells: call program() first")
        cfg = self.config
        s0 = float(self.read_stress_s)
        s1 = s0 + cell.read_stress_s(reads, cfg.array.v_read_V, cfg.array.t_pulse_s, cfg.device, duty)
        self.move_cells(cell.disturb(self.g_S, self.frozen, s0, s1, cfg.device))
        self.gsum_S.copy_(self.branch_col_sums().clamp_min(1e-30))
        self.read_stress_s.fill_(s1)

    def reads_per_inference(self) -> float:
        """Reads of each cell per inference: the output positions (seen at the last forward)
        times the input scheme's drive timesteps per vector (bit planes, repeats).
        """
        return float(self.positions * plane_counts(self.config.periphery.dac)[2])

    def set_read_temperature(self, kelvin: float | None) -> None:
        """Read the cells at ``kelvin`` from now on (None: at the device's t_ref_K, where they
        were programmed); ageing is separate (``age``).
        """
        if kelvin is not None and not (
            isinstance(kelvin, int | float) and math.isfinite(kelvin) and 1 <= kelvin <= 1000
        ):
            raise ValueError(f"read temperature = {kelvin!r} is invalid: allowed is a temperature in [1, 1000] K")
        self.read_K = None if kelvin is None else float(kelvin)
        if bool(self.programmed):
            self.gsum_S.copy_(self.branch_col_sums().clamp_min(1e-30))

    # ----- compute -----
    def _op(self, x: torch.Tensor) -> Any:
        raise NotImplementedError

    def reference_input_shape(self) -> tuple[int, ...]:
        """One sample's shape for a known reference input (drift compensation)."""
        return (self.grid.in_features,)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        if prefix + "out_scale" not in state_dict:  # saved before drift compensation existed
            state_dict[prefix + "out_scale"] = torch.ones_like(self.out_scale)
        self.upgrade_state_dict(state_dict, prefix)  # saved with the float32 programmed state, a bool mask
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.compensated = bool((self.out_scale != 1).any())

    def _float(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _spatial(self) -> int:
        return 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Analog forward; gradients flow as through the float layer (straight-through)."""
        if self.digital:
            return self._float(x)
        if not bool(self.programmed):
            log.debug("layer %d not programmed: programming with seed %d", self.index, self.config.seed)
            self.program()
        adc = self.config.periphery.adc
        pattern = self.adc_pattern if adc.gain_sigma or adc.offset_sigma_lsb or adc.dnl_lsb else None
        state = PeripheryState(
            self.x_range, self.adc_fs, self.gain, self.gsum_S, self._calibrating, self._first_batch, adc_pattern=pattern
        )
        self._first_batch = False
        self._read_since_calibration = True
        try:
            self._reading = True
            y = reads.read(self, x, state)
        finally:
            self._reading = False
            if self.compact:
                self._cache.clear()
        if self.compensated:  # the digital side rescales each output (drift compensation); y is the read's own
            y.mul_(self.out_scale.view(-1, *([1] * self._spatial())))
        if self.bias is not None:
            y.add_(self.bias.detach().view(-1, *([1] * self._spatial())))
        if torch.is_grad_enabled() and (self.weight.requires_grad or x.requires_grad):
            ref = self._float(x)
            y = ref + (y - ref).detach()
        return y

    def _positions_per_vector(self, flat: torch.Tensor) -> int:
        return 1

    def extra_repr(self) -> str:
        """Matrix size, tile grid and config name."""
        g = self.grid
        return f"{g.in_features}x{g.out_features}, tiles={g.n_row}x{g.n_col}, config={self.config.name!r}"


class _TileOp:
    """What every layer's array product shares: the per-row conductances and per-array sums."""

    layer: AnalogLayer

    @property
    def g_row_S(self) -> torch.Tensor:
        return self.layer.g_row()

    def col_tile_sums(self, per_col: torch.Tensor) -> torch.Tensor:
        return self.layer.col_tile_sums(per_col)


def _linear_op(layer: AnalogLayer) -> StackOp:
    """A Linear layer's tile stack as an array product (rows = inputs, padded at the end)."""
    g = layer.grid
    group = row_grouping(g.n_row, g.rows_pad)
    pairs = None
    if layer.floating_columns():  # each output's G+ and G- lines float apart: their own products

        def pairs() -> list[tuple[StackOp, torch.Tensor]]:
            b = layer.branch_S()
            return [(StackOp(b[k], group), b[k].sum(1).clamp_min(1e-30)) for k in (0, 1)]

    return StackOp(layer.gdiff(), group, layer.g_row(), g.col_tile, cells_S=layer.noise_cells, read_K=layer.read_K,
                   energy_S=layer.energy_forms if layer.wired_energy() else None, line_pairs=pairs)  # fmt: skip


class AnalogLinear(AnalogLayer):
    """``nn.Linear`` on cores."""

    @classmethod
    def from_float(cls, m: nn.Linear, config: Config, index: int, state_dtype: str = "float32") -> AnalogLinear:
        """Wrap a float ``nn.Linear`` (its parameters are shared, not copied)."""
        grid = tile_matrix(m.in_features, m.out_features, config.array)
        return cls(m.weight, m.bias, config, grid, index, state_dtype)  # type: ignore[arg-type]

    def _op(self, x: torch.Tensor) -> Any:
        if x.shape[-1] != self.grid.in_features:
            raise ValueError(
                f"input has {x.shape[-1]} features in its last dim: this layer takes {self.grid.in_features}"
            )
        lead = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1])
        return _linear_op(self), flat, lambda y: y.reshape(*lead, y.shape[-1])

    def _float(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    def to_float(self) -> nn.Linear:
        """A float ``nn.Linear`` holding this layer's parameters."""
        m = nn.Linear(self.grid.in_features, self.grid.out_features, bias=self.bias is not None, device="meta")
        m.weight, m.bias = self.weight, self.bias  # type: ignore[assignment]
        return m
