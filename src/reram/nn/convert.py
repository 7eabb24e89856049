"""Module swap: ``convert(model, config)`` puts a network's Linear/Conv layers on cores.

Also the model-level life of the chip: ``program``, ``age``, ``calibrate``, event counts and the
placement of tiles on cores. ``convert`` attaches ``program``, ``age`` and ``calibrate`` as methods
of the returned model, so ``model.program(); model.age(86400, 358)`` reads as it does on a chip.
"""

from __future__ import annotations

import copy
import fnmatch
import logging
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from reram.config import Config, load_config, override
from reram.events import EventCounts
from reram.mapping import Placement, place
from reram.nn import inventory
from reram.nn.attention import AttentionProducts, split_attention
from reram.nn.cell_state import check_state_dtype
from reram.nn.conv import AnalogConv1d, AnalogConv2d
from reram.nn.layers import AnalogLayer, AnalogLinear

log = logging.getLogger(__name__)

_ANALOG: dict[type[nn.Module], type[AnalogLayer]] = {
    nn.Linear: AnalogLinear,
    nn.Conv1d: AnalogConv1d,
    nn.Conv2d: AnalogConv2d,
}


def supported(m: nn.Module) -> bool:
    """True if ``m`` can run on cores (exactly Linear, Conv1d/2d with groups=1 and zero padding)."""
    if isinstance(m, tuple(_ANALOG)) and parametrize.is_parametrized(m):
        raise ValueError(
            f"{type(m).__name__} carries parametrizations (hardware-aware training?): call "
            "reram.train.strip_hwa(model) (or torch's remove_parametrizations) before convert()"
        )
    return type(m) in _ANALOG and inventory.why_digital(m) is None


def analog_layers(model: nn.Module) -> list[tuple[str, AnalogLayer]]:
    """(name, layer) of every analog layer, in network order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, AnalogLayer)]


def convert(
    model: nn.Module,
    config: Config | str | dict[str, Any] | None = None,
    filter_fn: Callable[[nn.Module, str], bool] | None = None,
    per_layer: dict[str, Config | dict[str, Any]] | None = None,
    inplace: bool = False,
    strict: bool = False,
    state_dtype: str = "float32",
) -> nn.Module:
    """Return ``model`` with its Linear, Conv1d and Conv2d layers running on simulated cores.

    Every ``nn.MultiheadAttention`` is first rewritten as a :class:`reram.nn.LinearAttention`
    (four ``nn.Linear`` projections, converted like any other, and digital attention products).
    Every other module that holds a weight matrix stays digital and is reported: one warning per
    module type, the table in :func:`digital_modules` (name, type, reason, share of the weights).

    Args:
        model: a float network.
        config: a Config, a preset name, a TOML path or a dict (default: the ``neurram`` preset).
        filter_fn: ``filter_fn(module, name) -> bool``; only layers it accepts are converted.
        per_layer: {fnmatch pattern of module names: Config or dict of overrides} for some layers;
            a pattern that matches no converted layer is an error.
        inplace: modify ``model`` itself instead of a deep copy.
        strict: raise if any weight-holding module would stay digital.
        state_dtype: how the chip state holds the conductances: "float32" (siemens, exact) or
            "float16" (for large models: window units, each cell to 2^-11 of its conductance;
            4 bytes per weight instead of 8, the matrices reads derive from the cells built per
            forward pass instead of kept, which costs a few passes over the cells per forward:
            small next to a batch of hundreds of inputs, dominant at a few; ``reram.nn.cell_state``).

    Raises:
        MappingError: the converted layers need more chips than ``chip.max_chips``.
        ValueError: nothing to convert; ``strict`` and something stays digital; a ``per_layer``
            pattern that matches nothing.

    """
    cfg = load_config(config)
    check_state_dtype(state_dtype)
    out = model if inplace else copy.deepcopy(model)
    rewritten = split_attention(out)  # nn.MultiheadAttention -> nn.Linear projections + digital products
    if rewritten:
        log.info("attention rewritten with nn.Linear projections: %s", ", ".join(rewritten))
    parents = inventory.digital_parents(out)
    candidates = [(n, m) for n, m in out.named_modules() if n not in parents and supported(m)]
    targets = [(n, m) for n, m in candidates if filter_fn is None or filter_fn(m, n)]
    filtered = {n for n, _ in candidates} - {n for n, _ in targets}
    digital = inventory.inventory(out, {n for n, _ in targets}, filtered, parents)
    if not targets:
        raise ValueError("convert(): no layer to put on cores (Linear, Conv1d, Conv2d); what the model holds:\n"
                         + (inventory.table(digital) or "  no weight matrices"))  # fmt: skip
    if strict and any(r.weights for r in digital):
        raise ValueError("convert(strict=True): these modules would stay digital:\n"
                         + inventory.table([r for r in digital if r.weights]))  # fmt: skip
    _check_patterns(per_layer, [n for n, _ in targets])
    for index, (name, m) in enumerate(targets):
        layer_cfg = cfg
        for pattern, spec in (per_layer or {}).items():
            if fnmatch.fnmatchcase(name, pattern):
                layer_cfg = spec if isinstance(spec, Config) else override(layer_cfg, spec)
        analog = _ANALOG[type(m)].from_float(m, layer_cfg, index, state_dtype)  # type: ignore[attr-defined]
        if not name:  # the model is itself one layer
            out = analog
            break
        parent_name, _, child = name.rpartition(".")
        setattr(out.get_submodule(parent_name), child, analog)
    layers = analog_layers(out)
    placement = place({n: m.grid for n, m in layers}, cfg.chip, cfg.array.rows * cfg.array.cols)
    for n, m in layers:
        m.sites = placement.layer_sites(n)
    fused = inventory.disable_fast_paths(out)
    if fused:
        log.info("fused fast path switched off in %s so that the converted layers are read", fused)
    inventory.report(digital)
    if cfg.cost.kv_store == "cells" and any(isinstance(m, AttentionProducts) for m in out.modules()):
        log.warning("cost.kv_store = 'cells' prices the KV cache and both attention products in ReRAM cells "
                    "(reram.cost.kv_cells); the simulated outputs compute those products digitally: the "
                    "cells' write and read errors on K and V are not simulated")  # fmt: skip
    out.reram_config = cfg  # type: ignore[assignment]
    out.reram_placement = placement  # type: ignore[assignment]
    out.reram_digital = digital  # type: ignore[assignment]
    if not isinstance(out, AnalogLayer):  # a single layer has its own program/age
        for fn in (program, age, calibrate, read_temperature):
            setattr(out, fn.__name__, _ChipMethod(out, fn.__name__))
    log.info("converted %d layers onto %d cores (%d chip(s))", len(layers), placement.cores_used, placement.n_chips)
    return out


def _check_patterns(per_layer: dict[str, Any] | None, names: list[str]) -> None:
    for pattern in per_layer or {}:
        if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
            listed = ", ".join(repr(n) for n in names)
            raise ValueError(f"per_layer pattern {pattern!r} matches no converted layer: the layers are {listed} "
                             "(fnmatch patterns, e.g. '0' or 'features.*')")  # fmt: skip


def digital_modules(model: nn.Module) -> list[inventory.DigitalModule]:
    """The weight-holding modules a conversion left digital, with the reason (see :mod:`reram.nn.inventory`)."""
    rows = getattr(model, "reram_digital", None)
    if rows is None:
        raise ValueError("digital_modules(): the model was not made by reram.convert")
    return list(rows)


class _ChipMethod:
    """``model.program(...)`` etc. on a converted model: a picklable bound call (``torch.save`` of
    the whole model and ``copy.deepcopy`` keep it working), unlike a bound method object.
    """

    def __init__(self, model: nn.Module, name: str):
        self.model, self.name = model, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _METHODS[self.name](self.model, *args, **kwargs)


def revert(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Return ``model`` with every analog layer replaced by its float layer (same parameters)."""
    out = model if inplace else copy.deepcopy(model)
    for name, m in analog_layers(out):
        if not name:
            return m.to_float()  # type: ignore[operator,no-any-return]
        parent_name, _, child = name.rpartition(".")
        setattr(out.get_submodule(parent_name), child, m.to_float())  # type: ignore[operator]
    for attr in ("reram_config", "reram_placement", "reram_digital", "program", "age", "calibrate", "read_temperature"):
        out.__dict__.pop(attr, None)
    return out


def program(model: nn.Module, seed: int | None = None) -> nn.Module:
    """Program every analog layer with its present weights (seeded)."""
    for _, m in analog_layers(model):
        m.program(seed)  # type: ignore[operator]
    return model


def age(model: nn.Module, seconds: float, kelvin: float | None = None) -> nn.Module:
    """Let every analog layer relax for ``seconds`` at ``kelvin`` (default: the device's t_ref_K)."""
    for _, m in analog_layers(model):
        m.age(seconds, kelvin)
    return model


def read_disturb(model: nn.Module, inferences: float, duty: float = 0.5) -> nn.Module:
    """Apply the read disturb of ``inferences`` more inferences to every analog layer: each cell
    is read ``layer.reads_per_inference()`` times per inference (its output positions x the
    input scheme's timesteps), a share ``duty`` of them non-zero pulses (``reram.device.disturb``).

    Raises:
        ValueError: if the model has no analog layer (on-chip training layers are not disturbed).

    """
    layers = analog_layers(model)
    if not layers:
        raise ValueError("read_disturb found no analog layer: convert the model first (reram.convert)")
    for _, m in layers:
        m.disturb(inferences * m.reads_per_inference(), duty)
    return model


def read_temperature(model: nn.Module, kelvin: float | None) -> nn.Module:
    """Read every analog layer's cells at ``kelvin`` from now on (None: at the device's t_ref_K).

    Programming and relaxation happen at the temperatures ``program``/``age`` are given; this
    only sets the temperature of the reads: each cell's conductance shifts by its temperature
    coefficient (``device.tcr_low_per_K`` / ``tcr_high_per_K``).
    """
    for _, m in analog_layers(model):
        m.set_read_temperature(kelvin)
    return model


@torch.no_grad()
def calibrate(model: nn.Module, batches: Iterable[Any], recalibrate: bool = True) -> nn.Module:
    """Set input and ADC full scales from data, as a chip is calibrated before use.

    Every batch (a tensor, or a tuple whose first item is the input) runs through the model;
    each layer keeps the running maximum of the configured percentiles of |input| and |ADC input|.
    Layers are programmed first if they are not; layers running digitally are skipped.

    Args:
        model: a converted model.
        batches: calibration inputs: an iterable of batches (a DataLoader, a list), or one tensor
            taken as one batch (iterating a tensor would feed its samples one by one, unbatched).
        recalibrate: also calibrate layers calibrated before (False: only new ones).

    """
    if isinstance(batches, torch.Tensor):
        batches = [batches]
    layers = [m for _, m in analog_layers(model) if not m.digital and (recalibrate or not bool(m.calibrated))]
    for m in layers:
        if not bool(m.programmed):
            m.program()
        m._calibrating, m._first_batch, m._read_since_calibration = True, True, False
    was_training = model.training
    model.eval()
    try:
        n = 0
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x)
            n += 1
        if n == 0:
            raise ValueError("calibrate() got no batches: pass at least one input batch")
    finally:
        for m in layers:
            m._calibrating = False
        model.train(was_training)
    unread = [n for n, m in analog_layers(model) if m in layers and not m._read_since_calibration]
    if unread:  # a converted layer the model's forward never called (bypassed, or dead)
        log.warning("calibrate(): the model's forward never read %s: these layers stay uncalibrated", unread)
    for m in layers:
        m.calibrated.fill_(bool(m._read_since_calibration))
    return model


def events(model: nn.Module) -> dict[str, EventCounts]:
    """Event counts per analog layer since conversion (or the last ``reset_events``)."""
    return {n: m.events.total() for n, m in analog_layers(model)}


def events_per_core(model: nn.Module) -> dict[tuple[int, int], EventCounts]:
    """Event counts per (chip, core)."""
    out: dict[tuple[int, int], EventCounts] = {}
    for _, m in analog_layers(model):
        for site, counts in zip(m.sites, m.events.per_tile(), strict=True):
            out[(site.chip, site.core)] = out.get((site.chip, site.core), EventCounts()) + counts
    return out


def reset_events(model: nn.Module) -> None:
    """Zero every layer's event counters."""
    for _, m in analog_layers(model):
        m.events.reset()


_METHODS: dict[str, Callable[..., Any]] = {"program": program, "age": age, "calibrate": calibrate,
                                           "read_temperature": read_temperature}  # fmt: skip


def placement(model: nn.Module) -> Placement:
    """Where the converted model's tiles live."""
    p = getattr(model, "reram_placement", None)
    if not isinstance(p, Placement):
        raise ValueError("placement(): the model was not made by reram.convert")
    return p
