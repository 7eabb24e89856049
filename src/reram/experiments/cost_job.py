"""``reram cost``: price a model on a chip and write the tables, plots and report."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from torch import nn

from reram.config import Config, ConfigError
from reram.cost import COMPONENTS, CostReport, Workload, cost_of_model, summarize
from reram.report import plots, write_csv, write_html_report, write_json
from reram.zoo import MODELS, SEQUENCE_MODELS, SHAPE_ONLY, build


def resolve_model(spec: str, input_shape: tuple[int, ...] | None) -> tuple[nn.Module, tuple[int, ...]]:
    """A zoo name, or ``module:factory`` (the factory returns a model, or (model, input shape))."""
    if ":" not in spec:
        if spec not in MODELS:
            raise ConfigError(
                f"MODEL = {spec!r} is unknown: allowed is a zoo model ({', '.join(MODELS)}) or module:factory"
            )
        if spec in SHAPE_ONLY:  # untrained large shapes: built on the meta device, no memory
            model, shape = build(spec, None, "meta")
        else:
            model, shape = build(spec, None if spec in SEQUENCE_MODELS else 1000 if spec == "resnet50" else 10)
        return model, input_shape or shape
    mod_name, _, attr = spec.partition(":")
    try:
        made: Any = getattr(importlib.import_module(mod_name), attr)()
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"MODEL = {spec!r} cannot be loaded: {err}") from err
    model, shape = made if isinstance(made, tuple) else (made, input_shape)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"MODEL = {spec!r} returned {type(model).__name__}: allowed is a torch.nn.Module")
    if shape is None:
        raise ConfigError(f"MODEL = {spec!r}: give --input-shape (one sample's shape, e.g. 3,32,32)")
    return model, tuple(input_shape or shape)


def write_cost(out: Path, work: Workload, report: CostReport, title: str, stem: str = "cost") -> dict[str, Any]:
    """Write ``<stem>.json``, per-layer and per-component CSVs, two PNGs and an HTML report."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(work, report)
    total_macs = sum(lw.macs for lw in work.layers) or 1.0
    digital = [{"module": lw.name, "type": lw.type, "reason": lw.reason, "macs": lw.macs,
                "share_of_macs": lw.macs / total_macs} for lw in work.layers if not lw.analog]  # fmt: skip
    summary["digital_modules"] = digital
    summary["unpriced_modules"] = list(work.unpriced)
    layers = summary["layers"]
    comps = [{"component": k, "energy_J": v} for k, v in summary["components_J"].items()]
    write_json(out / f"{stem}.json", summary)
    write_csv(out / f"{stem}_layers.csv", layers)
    write_csv(out / f"{stem}_components.csv", comps)
    pngs = [
        plots.cost_layers(layers, list(COMPONENTS), out / f"{stem}_layers.png"),
        plots.cost_components(summary["components_J"], out / f"{stem}_components.png"),
    ]
    metrics = [{"metric": k, "value": v} for k, v in summary["metrics"].items()]
    base = [{"baseline": k, **v} for k, v in summary["baselines"].items()]
    peak = [{"figure": k, "value": v} for k, v in summary["peak_full_array"].items()]
    write_html_report(out / f"{stem}_report.html", title,
                      [("Metrics", metrics), ("Per layer (J per inference)", layers), ("Per component", comps),
                       ("Modules that stay digital (priced as digital MACs)", digital),
                       ("Digital baselines", base), ("Full-array peak (core level)", peak)], pngs)  # fmt: skip
    return summary


def run_cost(spec: str, config: Config, out: Path, input_shape: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Price a model from its mapping alone and write the results into ``out``.

    The activity (planes, pulse density, pulse energy per layer) is estimated from the model on
    generated image-like inputs; the same on signed Gaussian inputs and the fixed assumption of
    :func:`reram.cost.default_profile` bracket how much the energy depends on it.
    """
    from reram.cost.activity import activity_spread

    model, shape = resolve_model(spec, input_shape)
    if _is_meta(model) or hasattr(model, "context"):  # shapes only, or token ids in: the assumed activity
        work, report = cost_of_model(model, config, shape)
        summary = write_cost(out, work, report, f"Cost of {spec} on {config.name} ({config.chip.node_nm} nm)")
        summary["activity"] = {"source": "assumed (reram.cost.default_profile): half the row slots pulsed"}
        write_json(out / "cost.json", summary)
        return summary
    images, signed = activity_spread(model, config, shape)
    work, report = cost_of_model(model, config, shape, images)
    summary = write_cost(out, work, report, f"Cost of {spec} on {config.name} ({config.chip.node_nm} nm)")
    e = report.total_energy_J
    alt = {"signed Gaussian inputs": signed, "assumed (half the slots pulsed)": None}
    spread = {k: cost_of_model(model, config, shape, prof)[1].total_energy_J for k, prof in alt.items()}
    summary["activity"] = {
        "source": "estimated from 8 generated image-like inputs, U[0, 1)",
        "energy_per_inference_J": e,
        **{f"energy_J, {k}": v for k, v in spread.items()},
        "relative_range": [min(spread.values()) / e - 1, max(spread.values()) / e - 1],
    }
    write_json(out / "cost.json", summary)
    return summary


def _is_meta(model: nn.Module) -> bool:
    return any(p.is_meta for p in model.parameters())


def run_system(spec: str, config: Config, out: Path, context: int | None, prompt: int) -> dict[str, Any]:
    """Per-token cost of a token model on the chips (:func:`reram.cost.system.system_cost`):
    write ``system.json``, ``chips.csv``, ``placement.png`` and ``system_report.html`` into ``out``.

    Raises:
        reram.ConfigError: the model does not take token ids (no ``context``).

    """
    from reram.cost.system import system_cost, system_summary

    model, _ = resolve_model(spec, None)
    ctx = context or getattr(model, "context", None)
    if ctx is None:
        raise ConfigError(f"MODEL = {spec!r} takes no token ids: --context is for language models "
                          f"({', '.join(SEQUENCE_MODELS)} or a module:factory whose model has a context)")  # fmt: skip
    result = system_cost(model, config, int(ctx), prompt)
    summary = system_summary(result)
    work = result["work"]
    names = [lw.name for lw in work.layers if lw.sites]
    index = {n: k for k, n in enumerate(names)}
    sites = [(s.chip, s.core, index[s.layer]) for s in work.placement.sites]
    png = plots.placement_map(sites, max(1, work.placement.n_chips), config.chip.cores, names, out / "placement.png")
    write_json(out / "system.json", summary)
    write_csv(out / "chips.csv", summary["chips"])
    per_token = [{"figure": k, "value": v} for k, v in summary["per_token"].items()]
    energy = [{"component": k, "joules_per_token": v} for k, v in summary["energy_per_token_J"].items()]
    intro = [f"{spec} on {work.placement.n_chips} chip(s) of {config.chip.cores} cores ({config.chip.partition} "
             f"partition, {config.chip.topology} of links at {config.chip.link_Gbps} Gb/s), decoding with "
             f"{ctx} tokens in the KV cache. Energy per token by component, links and KV cache included; "
             "per chip: cores, weights, bits in and out per token, and utilisation (busy time over the busiest "
             "chip's)."]  # fmt: skip
    if summary["per_token"].get("kv_cache_in_cells"):
        intro.append("The KV cache is written into ReRAM arrays token by token (cost.kv_store = \"cells\"): "
                     "kv_cache is the write-verify of each token's key and value rows, attention the two "
                     "products read as analog MVMs on those arrays; kv_cores are the arrays it takes "
                     "(kv_chips_added beyond the cores the model leaves free), kv_lifetime_tokens the tokens "
                     "the cells' endurance budget lasts with each row rewritten once per context.")  # fmt: skip
    write_html_report(out / "system_report.html", f"{spec}: a system of chips, per token",
                      [("Per token", per_token), ("Energy per token", energy), ("Per chip", summary["chips"])],
                      [png], intro=intro)  # fmt: skip
    return summary
