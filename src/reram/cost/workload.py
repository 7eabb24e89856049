"""What a network asks of the chip per inference: event counts per tile, counted or derived.

Two paths give the same :class:`Workload`:

- :func:`counted_workload` reads the event counters of a converted model after it ran: every
  count, the row pulses that were actually switched and the joules the cells dissipated
  (sum of V^2 G t over the pulses that were applied), divided by the samples it saw.
- :func:`analytic_workload` derives the counts from the layer shapes and the mapping alone
  (one batch-1 shape trace, no analog simulation), for models too large to simulate. The
  data-dependent quantities (input phases, how many row slots carry a pulse, the energy per
  pulse) come from a :class:`LayerProfile`: defaults, or measured in a counted run
  (:func:`profile_of`), which makes the two paths agree.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from reram.array import target_conductances
from reram.config import Config, load_config
from reram.events import EVENT_KINDS, TileEvents
from reram.mapping import Placement, TileGrid, TileSite, place, tile_matrix
from reram.nn import analog_layers, inventory, revert
from reram.nn.attention import split_attention
from reram.nn.convert import supported
from reram.periphery.dac import plane_counts

COUNT_KINDS = EVENT_KINDS  # per tile, per inference


@dataclass
class LayerWork:
    """One layer's work per inference.

    Attributes:
        name: module name.
        analog: mapped on cores (False: runs on the digital side, e.g. a grouped convolution).
        in_features, out_features: weight rows and columns (Cin*k*k x Cout for a convolution).
        positions: output positions per inference (1 for Linear, H*W for Conv2d).
        input_elements: input elements per inference (what the layer reads from buffers).
        grid: how the matrix is tiled (None for a digital layer).
        sites: where its tiles sit.
        events: per tile, {count kind: value per inference}.

    """

    name: str
    analog: bool
    in_features: int
    out_features: int
    positions: float
    input_elements: float
    grid: TileGrid | None = None
    sites: list[TileSite] = field(default_factory=list)
    events: list[dict[str, float]] = field(default_factory=list)
    type: str = ""
    reason: str = ""
    traced_macs: float | None = None

    @property
    def macs(self) -> float:
        """Multiply-accumulates per inference (logical weights x output positions; a digital
        module's traced products, e.g. an LSTM's gates or an attention's projections and scores).
        """
        if self.traced_macs is not None:
            return self.traced_macs
        return float(self.in_features * self.out_features * self.positions)

    @property
    def output_elements(self) -> float:
        """Output elements per inference."""
        return float(self.out_features * self.positions)

    def total(self, kind: str) -> float:
        """One count summed over the layer's tiles."""
        return float(sum(e[kind] for e in self.events))


@dataclass
class Workload:
    """A network's work per inference on a chip.

    Attributes:
        layers: in network order.
        config: the chip.
        placement: where the analog tiles sit.
        source: "counted" (from a simulated run) or "analytic" (from the mapping alone).
        samples: inferences the counts were averaged over (counted path).
        unpriced: digital modules not priced (a counted workload built without an input shape).

    """

    layers: list[LayerWork]
    config: Config
    placement: Placement
    source: str
    samples: float = 1.0
    unpriced: list[str] = field(default_factory=list)

    def total(self, kind: str) -> float:
        """One count summed over the network's analog tiles."""
        return sum(layer.total(kind) for layer in self.layers if layer.analog)


@dataclass(frozen=True)
class LayerProfile:
    """The data-dependent side of a layer's work.

    Attributes:
        planes: input planes per input vector (bits x sign phases in bit-serial mode).
        pulse_density: fraction of row slots (rows x planes) that carry a pulse.
        energy_factor: cell energy relative to every row slot pulsed at full v_read on the
            target conductances (pulse density x mean (V / v_read)^2 per pulse x the floating
            bit-line reduction in voltage mode).
        conversions: conversions per sensed line per input vector (default: one per plane).
        timesteps: drive timesteps per input vector (default: one per plane).

    """

    planes: float
    pulse_density: float
    energy_factor: float
    conversions: float | None = None
    timesteps: float | None = None


def default_profile(config: Config, first_layer: bool) -> LayerProfile:
    """Assumed activity: half the row slots pulsed; the first layer's inputs signed (two
    phases), later ones non-negative (after a ReLU); multi-level pulses uniform in amplitude
    (mean square 1/3 of full scale).
    """
    dac = config.periphery.dac
    planes, conversions, timesteps = plane_counts(dac, 2 if first_layer else 1)
    density = 0.5
    energy = density * (1.0 if dac.bit_serial else 1.0 / 3.0)
    return LayerProfile(planes, density, energy, conversions, timesteps)


def target_row_conductance(weight_matrix: torch.Tensor, grid: TileGrid, config: Config) -> np.ndarray:
    """Per tile (grid order): sum of the target conductances of both cells of every pair (siemens),
    from the mapping programming uses (:func:`reram.array.target_conductances`), one row tile at a
    time to bound memory.
    """
    if weight_matrix.is_meta:  # a shape-only model: trained-like weights assumed
        return assumed_row_conductance(grid, config)
    out = np.zeros((grid.n_row, grid.n_col))
    w = weight_matrix.detach().float()
    with torch.no_grad():
        for r, (lo, hi) in enumerate(grid.row_groups):
            mask = torch.ones(1, hi - lo, dtype=torch.bool, device=w.device)
            _, target = target_conductances(w[lo:hi].unsqueeze(0), mask, config.array, config.device, grid.col_tile)
            col = target.sum((0, 1, 2)).double()  # (out,): both cells, every row of the tile
            col = nn.functional.pad(col, (0, grid.n_col * grid.col_tile - col.shape[0]))
            out[r] = col.view(grid.n_col, grid.col_tile).sum(-1).cpu().numpy()
    return out.reshape(-1)


_ASSUMED: dict[tuple[Any, ...], float] = {}


def assumed_row_conductance(grid: TileGrid, config: Config) -> np.ndarray:
    """Per tile (grid order): the target conductance sum for a model without weights (built on
    the meta device), with weights assumed Gaussian, as trained weights roughly are: one seeded
    N(0, 1) block of each tile shape through the mapping programming uses (siemens).
    """
    if not _ASSUMED:
        logging.getLogger(__name__).info("shape-only model: cell conductances from Gaussian weights (assumed)")
    out = np.zeros((grid.n_row, grid.n_col))
    gen = torch.Generator().manual_seed(0)
    for r, c, rows, cols in grid.tiles():
        key = (rows, cols, grid.col_tile, config.array, config.device)
        if key not in _ASSUMED:
            w = torch.randn(1, rows, cols, generator=gen)
            mask = torch.ones(1, rows, dtype=torch.bool)
            _, target = target_conductances(w, mask, config.array, config.device, grid.col_tile)
            _ASSUMED[key] = float(target.sum())
        out[r, c] = _ASSUMED[key]
    return out.reshape(-1)


def counted_workload(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> Workload:
    """The per-inference work a converted model did since its counters were last reset; with
    ``input_shape`` (one sample's), the modules it left digital are added as digital work (MACs
    from a shape trace of the float model), else they are listed in ``Workload.unpriced``.
    """
    layers = analog_layers(model)
    if not layers:
        raise ValueError("counted_workload(): the model has no analog layers (call reram.convert first)")
    placement = getattr(model, "reram_placement", None)
    if not isinstance(placement, Placement):
        placement = place({n: m.grid for n, m in layers}, layers[0][1].config.chip, 1)
    out: list[LayerWork] = []
    samples = 0.0
    for name, m in layers:
        tiles = m.events.per_tile()
        n = tiles[0].vectors / max(m.positions, 1)
        if n == 0:
            raise ValueError(f"counted_workload(): layer {name!r} has not run since its counters were reset")
        samples = samples or n
        ev = [{k: float(getattr(t, k)) / n for k in COUNT_KINDS} for t in tiles]
        out.append(
            LayerWork(
                name,
                True,
                m.grid.in_features,
                m.grid.out_features,
                float(m.positions),
                float(m.input_elements),
                m.grid,
                list(m.sites),
                ev,
            )  # fmt: skip
        )
    cfg = getattr(model, "reram_config", layers[0][1].config)
    digital = {r.name: r for r in getattr(model, "reram_digital", [])}
    unpriced: list[str] = []
    if digital and input_shape is not None:
        shapes = _trace(revert(model).to("meta"), input_shape)
        for name, (positions, inputs, macs) in shapes.items():
            if name in digital:
                r = digital[name]
                out.append(LayerWork(name, False, 0, 0, positions, inputs, type=r.type, reason=r.reason,
                                     traced_macs=macs))  # fmt: skip
    elif digital:
        unpriced = sorted(digital)
    return Workload(out, cfg, placement, "counted", samples, unpriced)


def profile_of(work: Workload, model: nn.Module) -> dict[str, LayerProfile]:
    """The measured activity of a counted run, per layer (feed it to :func:`analytic_workload`)."""
    cfg = work.config
    mods = dict(model.named_modules())
    prof: dict[str, LayerProfile] = {}
    for layer in work.layers:
        if not layer.analog or layer.grid is None:
            continue
        vectors = layer.events[0]["vectors"]
        planes = layer.events[0]["mvms"] / vectors
        conversions, timesteps = layer.events[0]["slices"] / vectors, layer.events[0]["timesteps"] / vectors
        density = layer.total("read_pulses") / max(layer.total("dac_conversions"), 1e-30)
        wm = _weight_matrix(mods[layer.name])
        g = target_row_conductance(wm, layer.grid, cfg).sum()
        full = cfg.array.t_pulse_s * cfg.array.v_read_V * cfg.device.drive_V(cfg.array.v_read_V) * vectors * planes * g
        energy = layer.total("cell_energy_J") / max(full, 1e-300)
        prof[layer.name] = LayerProfile(planes, density, energy, conversions, timesteps)
    return prof


def _weight_matrix(m: nn.Module) -> torch.Tensor:
    w = m.weight  # type: ignore[union-attr]
    assert isinstance(w, torch.Tensor)
    return w.detach().reshape(w.shape[0], -1).T


def _trace(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, tuple[float, float, float]]:
    """(output positions, input elements, MACs) per weight-holding module, from one batch-1 forward
    (positions are those of a Linear/Conv layer; MACs those of a module that runs digitally).
    """
    seen: dict[str, tuple[float, float, float]] = {}
    hooks = []
    parents = inventory.digital_parents(model)
    for name, m in model.named_modules():
        if name in parents or not (inventory.matrix_weights(m) or inventory.digital_work(m)):
            continue

        def hook(mod: nn.Module, args: tuple[torch.Tensor, ...], out: Any, name: str = name) -> None:
            x = args[0] if args else None
            inputs = float(x.numel()) if isinstance(x, torch.Tensor) else 0.0
            if supported(mod):
                channels = out.shape[-1] if isinstance(mod, nn.Linear) else out.shape[1]
                seen[name] = (out.numel() / channels, inputs, 0.0)
            else:
                seen[name] = (1.0, inputs, seen.get(name, (0, 0, 0.0))[2] + inventory.digital_macs(mod, args, out))

        hooks.append(m.register_forward_hook(hook))
    try:
        p = next(model.parameters())
        with torch.no_grad():
            model.eval()(torch.zeros((1, *input_shape), dtype=p.dtype, device=p.device))
    except StopIteration:
        raise ValueError("the model has no parameters: nothing to price") from None
    except Exception as err:
        raise ValueError(f"input_shape = {input_shape!r} does not fit the model: {err}") from err
    finally:
        for h in hooks:
            h.remove()
    return seen


def analytic_workload(
    model: nn.Module,
    config: Config | str | None,
    input_shape: tuple[int, ...],
    profile: dict[str, LayerProfile] | None = None,
) -> Workload:
    """The per-inference work of ``model`` on the chip from its shapes and mapping alone.

    Args:
        model: a float network (a converted one is reverted on a copy first).
        config: the chip.
        input_shape: one sample's shape, e.g. (1, 28, 28).
        profile: measured activity per layer name (default: :func:`default_profile`).

    """
    cfg = load_config(config)
    if cfg.array.ir_drop != "off" and cfg.array.has_wires:
        logging.getLogger(__name__).warning(
            "analytic cost: the wires' dissipation (array.ir_drop = %r) is not in it; a counted run has it",
            cfg.array.ir_drop,
        )
    if analog_layers(model):
        model = revert(copy.deepcopy(model))
    if any(isinstance(m, nn.MultiheadAttention) for m in model.modules()):
        model = copy.deepcopy(model)
        split_attention(model)  # as convert maps it: four projections on cores, the products digital
    try:  # shapes only: trace a copy on the meta device (no arithmetic)
        shapes = _trace(copy.deepcopy(model).to("meta"), input_shape)
    except ValueError:
        logging.getLogger(__name__).debug("meta-device trace failed; tracing on %s", next(model.parameters()).device)
        shapes = _trace(model, input_shape)
    grids: dict[str, TileGrid] = {}
    digital: dict[str, nn.Module] = {}
    parents = inventory.digital_parents(model)
    for name, m in model.named_modules():
        if name not in shapes:
            continue
        if supported(m) and name not in parents:
            k = int(np.prod(m.kernel_size)) if isinstance(m, (nn.Conv1d, nn.Conv2d)) else 1
            wm = _weight_matrix(m)
            grids[name] = tile_matrix(wm.shape[0], wm.shape[1], cfg.array, kernel=k)
        else:
            digital[name] = m
    placement = place(grids, cfg.chip, cfg.array.rows * cfg.array.cols)
    mods = dict(model.named_modules())
    layers: list[LayerWork] = []
    first = True
    for name in shapes:
        positions, inputs, macs = shapes[name]
        if name in digital:
            m = digital[name]
            layers.append(LayerWork(name, False, 0, 0, positions, inputs, type=type(m).__name__,
                                    reason=inventory.why_digital(m) or "", traced_macs=macs))  # fmt: skip
            continue
        grid = grids[name]
        prof = (profile or {}).get(name) or default_profile(cfg, first)
        first = False
        g_rows = target_row_conductance(_weight_matrix(mods[name]), grid, cfg)
        scale = cfg.array.t_pulse_s * cfg.array.v_read_V * cfg.device.drive_V(cfg.array.v_read_V) * prof.energy_factor
        counts = TileEvents(grid.tiles(), grid.cells_per_weight_row, grid.cells_per_weight_col)
        counts.add(positions, prof.planes, prof.conversions, prof.timesteps)  # the counts a simulated read adds
        slots = counts.counts[:, TileEvents.SHAPE_KINDS.index("dac_conversions")]  # rows x planes x vectors
        counts.add_measured(prof.pulse_density * slots, scale * positions * prof.planes * g_rows)
        ev = [t.as_dict() for t in counts.per_tile()]
        layers.append(
            LayerWork(
                name,
                True,
                grid.in_features,
                grid.out_features,
                positions,
                inputs,
                grid,
                placement.layer_sites(name),
                ev,
            )  # fmt: skip
        )
    return Workload(layers, cfg, placement, "analytic")
