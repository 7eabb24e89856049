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
from reram.core import EventCounts
from reram.mapping import Placement, place
from reram.nn.conv import AnalogConv1d, AnalogConv2d
from reram.nn.layers import AnalogLayer, AnalogLinear

log = logging.getLogger(__name__)

_ANALOG: dict[type[nn.Module], type[AnalogLayer]] = {
    nn.Linear: AnalogLinear,
    nn.Conv1d: AnalogConv1d,
    nn.Conv2d: AnalogConv2d,
}


def supported(m: nn.Module) -> bool:
    """True if ``m`` can run on cores (Linear, Conv1d/2d with groups=1 and zero padding)."""
    if isinstance(m, tuple(_ANALOG)) and parametrize.is_parametrized(m):
        raise ValueError(
            f"{type(m).__name__} carries parametrizations (hardware-aware training?): call "
            "reram.train.strip_hwa(model) (or torch's remove_parametrizations) before convert()"
        )
    if type(m) not in _ANALOG:
        return False
    if isinstance(m, (nn.Conv1d, nn.Conv2d)) and (m.groups != 1 or m.padding_mode != "zeros"):
        log.warning("%s with groups=%d, padding_mode=%r stays digital", type(m).__name__, m.groups, m.padding_mode)
        return False
    return True


def analog_layers(model: nn.Module) -> list[tuple[str, AnalogLayer]]:
    """(name, layer) of every analog layer, in network order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, AnalogLayer)]


def convert(
    model: nn.Module,
    config: Config | str | dict[str, Any] | None = None,
    filter_fn: Callable[[nn.Module, str], bool] | None = None,
    per_layer: dict[str, Config | dict[str, Any]] | None = None,
    inplace: bool = False,
) -> nn.Module:
    """Return ``model`` with its Linear, Conv1d and Conv2d layers running on simulated cores.

    Args:
        model: a float network.
        config: a Config, a preset name, a TOML path or a dict (default: the ``neurram`` preset).
        filter_fn: ``filter_fn(module, name) -> bool``; only layers it accepts are converted.
        per_layer: {fnmatch pattern of module names: Config or dict of overrides} for some layers.
        inplace: modify ``model`` itself instead of a deep copy.

    Raises:
        MappingError: the converted layers need more chips than ``chip.max_chips``.

    """
    cfg = load_config(config)
    out = model if inplace else copy.deepcopy(model)
    targets = [(n, m) for n, m in out.named_modules() if supported(m) and (filter_fn is None or filter_fn(m, n))]
    for index, (name, m) in enumerate(targets):
        layer_cfg = cfg
        for pattern, spec in (per_layer or {}).items():
            if fnmatch.fnmatchcase(name, pattern):
                layer_cfg = spec if isinstance(spec, Config) else override(layer_cfg, spec)
        analog = _ANALOG[type(m)].from_float(m, layer_cfg, index)  # type: ignore[attr-defined]
        if not name:  # the model is itself one layer
            out = analog
            break
        parent_name, _, child = name.rpartition(".")
        setattr(out.get_submodule(parent_name), child, analog)
    layers = analog_layers(out)
    placement = place({n: m.grid for n, m in layers}, cfg.chip, cfg.array.rows * cfg.array.cols)
    for n, m in layers:
        m.sites = placement.layer_sites(n)
    out.reram_config = cfg  # type: ignore[assignment]
    out.reram_placement = placement  # type: ignore[assignment]
    if not isinstance(out, AnalogLayer):  # a single layer has its own program/age
        for fn in (program, age, calibrate):
            setattr(out, fn.__name__, _ChipMethod(out, fn.__name__))
    log.info("converted %d layers onto %d cores (%d chip(s))", len(layers), placement.cores_used, placement.n_chips)
    return out


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
    for attr in ("reram_config", "reram_placement", "program", "age", "calibrate"):
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


@torch.no_grad()
def calibrate(model: nn.Module, batches: Iterable[Any], recalibrate: bool = True) -> nn.Module:
    """Set input and ADC full scales from data, as a chip is calibrated before use.

    Every batch (a tensor, or a tuple whose first item is the input) runs through the model;
    each layer keeps the running maximum of the configured percentiles of |input| and |ADC input|.
    Layers are programmed first if they are not; layers running digitally are skipped.

    Args:
        model: a converted model.
        batches: calibration inputs.
        recalibrate: also calibrate layers calibrated before (False: only new ones).

    """
    layers = [m for _, m in analog_layers(model) if not m.digital and (recalibrate or not bool(m.calibrated))]
    for m in layers:
        if not bool(m.programmed):
            m.program()
        m._calibrating, m._first_batch = True, True
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
    for m in layers:
        m.calibrated.fill_(True)
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


_METHODS: dict[str, Callable[..., Any]] = {"program": program, "age": age, "calibrate": calibrate}


def placement(model: nn.Module) -> Placement:
    """Where the converted model's tiles live."""
    p = getattr(model, "reram_placement", None)
    if not isinstance(p, Placement):
        raise ValueError("placement(): the model was not made by reram.convert")
    return p
