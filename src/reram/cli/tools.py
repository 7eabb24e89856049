"""``reram cost``, ``reram irdrop``, ``reram bench``, ``reram presets`` and ``reram validate``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from reram.cli.app import app
from reram.cli.common import CONFIG_RULE, clean_errors, config_file, fail, number_list, out_dir, progress
from reram.config import ConfigError, available_presets, preset
from reram.report.manifest import manifested
from reram.report.writers import json_safe


def _shape(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        dims = tuple(int(t) for t in text.split(","))
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise ConfigError(
            f"--input-shape = {text!r} is invalid: allowed is positive integers separated by commas, e.g. 3,32,32"
        )
    return dims


def versus(name: str, energy_ratio: float, latency_ratio: float) -> str:
    """A baseline's ratios in words: which side is better, by how much."""
    if energy_ratio >= 1:
        energy = f"{name} needs {energy_ratio:.3g}× the energy"
    else:
        energy = f"analog needs {1 / energy_ratio:.3g}× the energy of {name}"
    speed = (
        f"analog is {latency_ratio:.3g}× faster" if latency_ratio >= 1 else f"analog is {1 / latency_ratio:.3g}× slower"
    )
    return f"{energy}; {speed}"


@app.command(epilog=CONFIG_RULE)
def cost(
    model: str = typer.Argument(
        ..., help="A zoo model (fashion_cnn, neurram_mnist_cnn, resnet50, ...) or module:factory."
    ),
    preset_name: str = typer.Option("neurram", "--preset", help="Chip preset (see `reram presets`)."),
    config: Path | None = typer.Option(None, "--config", help="TOML chip config (overrides --preset)."),
    input_shape: str | None = typer.Option(None, "--input-shape", help="One sample's shape, e.g. 3,32,32."),
    context: int | None = typer.Option(
        None, "--context", help="Language models: tokens in the KV cache per decoded token (default: the model's)."
    ),
    prompt: int = typer.Option(128, "--prompt", help="Language models: prompt tokens to prefill."),
    partition: str | None = typer.Option(None, "--partition", help="pipeline | tensor (sets chip.partition)."),
    max_chips: int | None = typer.Option(None, "--max-chips", help="Chips the model may take (sets chip.max_chips)."),
    kv_store: str | None = typer.Option(
        None,
        "--kv-store",
        help="Language models: auto | sram | dram | cells, where the KV cache lives (cost.kv_store).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the whole result as one JSON object."),
    out: Path = typer.Option(Path("results/cost"), "--out", help="Output folder (cost.json, CSVs, PNGs, report)."),
) -> None:
    """Energy, latency and area of MODEL on a chip, from its mapping alone: energy per
    inference, latency, throughput, TOPS, TOPS/W, TOPS/mm², EDP; per-layer and per-component
    breakdowns; digital SRAM and digital-ReRAM baselines on the same network and node; the
    full-array peak. Modules that stay digital (LSTM, attention products, ...) are priced as
    digital MACs. A language model (char_gpt, gpt2_small, llama_1b, or one with a ``context``)
    is also priced per token on its system of chips: decode latency and tokens/s, pipelined
    tokens/s, prefill of --prompt tokens, energy per token with links and KV cache, per chip
    cores, weights, traffic and utilisation, and a placement picture. Component values and
    their sources: reram/cost/nodes/*.toml.
    """
    from reram.config import load_config, override
    from reram.experiments.cost_job import resolve_model, run_cost, run_system

    with clean_errors():
        cfg = load_config(config_file(config) if config else preset_name)
        chip = {k: v for k, v in (("partition", partition), ("max_chips", max_chips)) if v is not None}
        if chip:
            cfg = override(cfg, {"chip": chip})
        if kv_store is not None:
            cfg = override(cfg, {"cost": {"kv_store": kv_store}})
        shape = _shape(input_shape)
        made, _ = resolve_model(model, shape)  # a bad MODEL fails before anything is written
        tokens = context is not None or hasattr(made, "context")
        if context is not None and context < 1 or prompt < 0:
            fail(f"--context = {context!r} / --prompt = {prompt!r}: allowed are --context >= 1 and --prompt >= 0")
    out = out_dir(out)
    with clean_errors(), manifested(out, "reram cost", {"model": model, "config": cfg.to_dict(), "shape": shape}):
        summary = run_cost(model, cfg, out, shape)
        if tokens:
            summary["system"] = run_system(model, cfg, out, context, prompt)
    if as_json:
        print(json.dumps(json_safe(summary), indent=2, allow_nan=False))
        return
    if tokens:
        _print_system(model, cfg, summary["system"], out)
        return
    m = summary["metrics"]
    where = f"{summary['cores_used']} cores, {summary['chips']} chip(s)"
    t = Table(title=f"{model} on {cfg.name} ({cfg.chip.node_nm} nm), {where}")
    for col in ("layer", "energy (nJ)", "latency (µs)", "ADC share"):
        t.add_column(col, justify="right")
    for r in summary["layers"]:
        t.add_row(r["layer"], f"{r['energy_J'] * 1e9:.3g}", f"{r['latency_s'] * 1e6:.3g}",
                  f"{r['adc'] / r['energy_J']:.0%}" if r["energy_J"] else "-")  # fmt: skip
    Console().print(t)
    c = Table(title="energy by component")
    c.add_column("component")
    c.add_column("nJ / inference", justify="right")
    for k, v in summary["components_J"].items():
        if v:
            c.add_row(k, f"{v * 1e9:.4g}")
    Console().print(c)
    for d in summary["digital_modules"]:
        Console().print(f"digital: {d['module']} ({d['type']}, {d['share_of_macs']:.1%} of the MACs): {d['reason']}")
    sram, dig = summary["baselines"]["digital_sram"], summary["baselines"]["digital_reram"]
    p = summary["peak_full_array"]
    Console().print(
        f"energy {m['energy_per_inference_J'] * 1e6:.4g} µJ, latency {m['latency_s'] * 1e6:.4g} µs, "
        f"{m['throughput_inferences_per_s']:.4g} inferences/s, {m['tops']:.3g} TOPS, {m['tops_per_w']:.3g} TOPS/W, "
        f"{m['tops_per_mm2']:.3g} TOPS/mm², EDP {m['edp_J_s']:.3g} J·s, area {m['area_mm2']:.3g} mm²\n"
        f"vs digital SRAM: {versus('digital SRAM', sram['energy_ratio'], sram['latency_ratio'])}\n"
        f"vs digital ReRAM: {versus('digital ReRAM', dig['energy_ratio'], dig['latency_ratio'])}\n"
        f"full-array peak: {p['energy_per_mac_J'] * 1e15:.3g} fJ/MAC, {p['tops_per_w']:.3g} TOPS/W; results in {out}/"
    )


def _print_system(model: str, cfg: Any, system: dict[str, Any], out: Path) -> None:
    p = system["per_token"]
    t = Table(title=f"{model} on {int(p['chips'])} chip(s) of {cfg.name} ({cfg.chip.partition}, {cfg.chip.topology})")
    t.add_column("per token", justify="left")
    t.add_column("value", justify="right")
    rows = [("decode latency", f"{p['decode_latency_s'] * 1e3:.4g} ms at {int(p['context_tokens'])} tokens of context"),
            ("decode tokens/s (one sequence)", f"{p['decode_tokens_per_s']:.4g}"),
            ("tokens/s pipelined", f"{p['pipelined_tokens_per_s']:.4g}"),
            ("energy per token", f"{p['energy_per_token_J'] * 1e6:.4g} µJ"),
            ("links / KV cache / attention share", f"{p['links_share']:.1%} / {p['kv_cache_share']:.1%} / "
                                                   f"{p['attention_share']:.1%}"),
            ("KV cache", f"{p['kv_cache_bits'] / 8e6:.4g} MB in {_kv_place(p)}"),
            ("mean chip utilisation", f"{p['mean_chip_utilisation']:.1%}")]  # fmt: skip
    if p.get("kv_cache_in_cells"):
        life = p["kv_lifetime_tokens"]
        rows += [("KV arrays", f"{int(p['kv_cores'])} cores ({int(p['kv_chips_added'])} chips added), "
                               f"{p['kv_pulses_per_cell']:.3g} write-verify pulses per cell, "
                               f"{int(p['kv_write_iterations'])} iterations"),
                 ("KV write / read per token", f"{p['kv_write_s'] * 1e6:.4g} / {p['kv_read_s'] * 1e6:.4g} µs"),
                 ("KV cells' endurance", "unlimited (device.update.endurance_cycles = 0)" if life == float("inf")
                  else f"{life:.4g} tokens")]  # fmt: skip
    if "prefill_latency_s" in p:
        rows.append((f"prefill of {int(p['prefill_tokens'])} tokens", f"{p['prefill_latency_s'] * 1e3:.4g} ms"))
    for a, b in rows:
        t.add_row(a, b)
    Console().print(t)
    c = Table(title="energy per token by component")
    c.add_column("component")
    c.add_column("µJ", justify="right")
    for k, v in system["energy_per_token_J"].items():
        c.add_row(k, f"{v * 1e6:.4g}")
    Console().print(c)
    Console().print(f"per chip (cores, weights, traffic, utilisation): {out}/chips.csv; placement: {out}/placement.png")


def _kv_place(p: dict[str, Any]) -> str:
    if p.get("kv_cache_in_cells"):
        return "ReRAM cells"
    return "SRAM" if p["kv_cache_in_sram"] else "DRAM"


@app.command(epilog=CONFIG_RULE)
def irdrop(
    config: Path | None = typer.Option(None, "--config", help="TOML: \\[job] table plus chip keys (neurram)."),
    quick: bool = typer.Option(False, "--quick", help="Short variant: 64 and 256 arrays, 0/2/5 ohm, 2,000 images."),
    sizes: str | None = typer.Option(None, "--sizes", help="Array sizes, e.g. 64,128,256."),
    resistances: str | None = typer.Option(None, "--resistances", help="Segment ohms, e.g. 0,0.5,1,2,5."),
    finetune_samples: int | None = typer.Option(None, "--finetune-samples", help="Chip-in-the-loop images (0: off)."),
    out: Path = typer.Option(
        Path("results/irdrop"), "--out", help="Output folder (irdrop_sweep.json/csv/png, report)."
    ),
) -> None:
    """Accuracy against wire resistance with exact IR drop: the job's CNN on square arrays of
    each size, voltage (the preset's) and current sensing, segment resistance swept, as trained
    and with the IR drop in the training loop (chip-in-the-loop fine-tuning). Resumes from the
    points already in OUT.
    """
    from reram.config import load_job
    from reram.experiments.irdrop_sweep import run_irdrop_sweep
    from reram.experiments.job import check_job

    with clean_errors():
        job, cfg, _ = load_job(config_file(config), quick)
        check_job(job)
    n = number_list(sizes, "--sizes", int, 2) or ([64, 256] if quick else [64, 128, 256])
    r = number_list(resistances, "--resistances", float, 0) or ([0, 2, 5] if quick else [0, 0.5, 1, 2, 5])
    if finetune_samples is not None and finetune_samples < 0:
        fail(f"--finetune-samples = {finetune_samples} is invalid: allowed is an integer >= 0 (0: off)")
    ft = finetune_samples if finetune_samples is not None else (2000 if quick else 5000)
    out = out_dir(out)
    what = {"job": asdict(job), "config": cfg.to_dict(), "finetune_samples": ft}  # points accumulate: not in it
    with progress() as tick, clean_errors(), manifested(out, "reram irdrop", what):
        summary = run_irdrop_sweep(
            job, cfg, out, sizes=n, resistances_ohm=r, finetune_samples=ft, finetune_epochs=1, progress=tick
        )
    t = Table(title=f"{job.model} on {job.dataset}, preset {cfg.name!r}, float {summary['float_pct']:.2f} %")
    for col in ("sensing", "array", "r wire (ohm)", "as trained (%)", "IR drop in loop (%)", "one-time s/tile"):
        t.add_column(col, justify="right")
    for p in summary["points"]:
        t.add_row(p["sensing"], f"{p['array']}", f"{p['r_wire_ohm']:g}", f"{p['acc_plain_pct']:.2f}",
                  f"{p['acc_in_loop_pct']:.2f}",
                  f"{p['effective_s_per_tile']:.3f}")  # fmt: skip
    Console().print(t)
    Console().print(f"results in {out}/")


BENCH_TASKS = {"neurram": ("mnist", "fashion", "cifar10", "kws", "rbm"), "transformers": ("vit", "gpt")}


@app.command()
def bench(
    suite: str = typer.Argument(..., help="Benchmark suite: neurram or transformers."),
    quick: bool = typer.Option(False, "--quick", help="Short variant (under 10 minutes on 2 cores)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole result as one JSON object."),
    cifar_dir: str | None = typer.Option(None, "--cifar-dir", help="cifar-10-batches-py folder (CIFAR-10 row)."),
    tasks: str | None = typer.Option(None, "--tasks", help="Comma-separated rows to run (default: all of the suite)."),
    out: Path = typer.Option(Path("results/bench"), "--out", help="Output folder (JSON, CSV, figures, report)."),
) -> None:
    """A benchmark suite. ``neurram``: NeuRRAM's tasks (MNIST CNN, Fashion-MNIST CNN, ResNet-20 on
    CIFAR-10 when --cifar-dir or RERAM_CIFAR10 is given, keyword spotting, RBM image recovery on
    the transposable array): float software, 4-bit software, analog on the neurram preset with
    hardware-aware training, and the published chip result. ``transformers``: a ViT on
    Fashion-MNIST (vit) and a character-level GPT on the King James Bible (gpt; Debian's
    bible-kjv): float, analog as trained, analog after hardware-aware fine-tuning, and the energy
    per image or token. Resumes from what OUT already holds.
    """
    if suite not in BENCH_TASKS:
        fail(f"suite = {suite!r} is unknown: allowed is one of {', '.join(BENCH_TASKS)}")
    allowed = BENCH_TASKS[suite]
    names = allowed if tasks is None else tuple(t.strip() for t in tasks.split(",") if t.strip())
    unknown = [t for t in names if t not in allowed]
    if not names or unknown:
        fail(f"--tasks = {tasks!r} is invalid: allowed is a comma-separated subset of {', '.join(allowed)}")
    out = out_dir(out / suite)
    with progress() as tick, clean_errors(), manifested(out, f"reram bench {suite}", {"quick": quick}):  # rows add up
        if suite == "neurram":
            from reram.experiments.bench_neurram import run_neurram_bench

            summary = run_neurram_bench(out, quick, cifar_dir, tick, names)
        else:
            from reram.experiments.bench_transformers import run_transformer_bench

            summary = run_transformer_bench(out, quick, tick, names)
    if as_json:
        print(json.dumps(json_safe(summary), indent=2, allow_nan=False))
        return
    if suite == "transformers":
        t = Table(title=f"Transformers{' (quick)' if quick else ''}: neurram preset")
        for col in ("task", "metric", "float software", "analog", "analog + HWA", "energy"):
            t.add_column(col, justify="right")
        for r in summary["rows"]:
            a, h = f"{r['analog']:.3f} ± {r['analog_std']:.3f}", f"{r['analog_hwa']:.3f} ± {r['analog_hwa_std']:.3f}"
            t.add_row(r["task"], r["metric"], f"{r['float_software']:.3f}", a, h,
                      f"{r['energy_per_inference_J'] * 1e9:.2f} nJ per {r['unit']}")  # fmt: skip
        Console().print(t)
        Console().print(f"results in {out}/")
        return
    t = Table(title=f"NeuRRAM suite{' (quick)' if quick else ''}: neurram preset")
    for col in ("task", "metric", "float software", "4-bit software", "analog", "published chip"):
        t.add_column(col, justify="right")
    for r in summary["rows"]:
        t.add_row(r["task"], r["metric"], f"{r['float_software']:.2f}", f"{r['software_4bit']:.2f}",
                  f"{r['analog']:.2f} ± {r['analog_std']:.2f}", r["published_chip"])  # fmt: skip
    Console().print(t)
    for s in summary["skipped"]:
        Console().print(f"skipped {s['task']}: {s['reason']}")
    Console().print(f"results in {out}/")


@app.command()
def presets(
    as_json: bool = typer.Option(False, "--json", help="Print every preset as one JSON object."),
    show: str | None = typer.Option(None, "--show", help="Print one preset as TOML."),
) -> None:
    """List the named configurations (devices and chips from the literature)."""
    if show is not None:
        with clean_errors():
            print(preset(show).to_toml())
        return
    configs = {name: preset(name) for name in available_presets()}
    if as_json:
        print(json.dumps({n: c.to_dict() for n, c in configs.items()}, indent=2))
        return
    table = Table(title="reram presets")
    for col in ("name", "window (µS)", "levels", "programming", "array", "DAC bits", "ADC bits", "sensing", "cores"):
        table.add_column(col)
    for n, c in configs.items():
        d, a, p = c.device, c.array, c.periphery
        table.add_row(
            n, f"{d.g_min_S * 1e6:g}–{d.g_max_S * 1e6:g}", str(d.levels or "∞"), d.program_mode,
            f"{a.rows}×{a.cols} ({a.differential})", f"{p.dac.bits}{' serial' if p.dac.bit_serial else ''}",
            str(p.adc.bits), p.adc.sensing, str(c.chip.cores),
        )  # fmt: skip
    Console().print(table)


@app.command()
def validate(
    as_json: bool = typer.Option(False, "--json", help="Print the table as one JSON object."),
    out: Path = typer.Option(Path("results/validate"), "--out", help="Output folder (validation.json, .csv)."),
) -> None:
    """Every published figure the cost model reproduces, against the model: NeuRRAM's efficiency,
    throughput and energy breakdown at each published bit-precision, Marinella et al.'s MAC
    energy and ratios. Each row says whether its constants were chosen to match it
    ("calibration") or it checks the model ("held-out"), with model / published.
    """
    from reram.experiments.validation import all_checks, as_rows
    from reram.report.writers import write_csv, write_json

    out = out_dir(out)
    with clean_errors():
        rows = as_rows(all_checks())
        write_json(out / "validation.json", {"checks": rows})
        write_csv(out / "validation.csv", rows)
    if as_json:
        print(json.dumps(json_safe({"checks": rows}), indent=2, allow_nan=False))
        return
    t = Table(title="published figures: model vs paper")
    for col in ("figure", "published", "model", "model / published", "role"):
        t.add_column(col, justify="right" if col != "figure" else "left")
    for r in rows:
        t.add_row(r["figure"], f"{r['published']:.4g}", f"{r['model']:.4g}", f"{r['ratio']:.2f}", r["role"])
    Console().print(t)
    held = [r["ratio"] for r in rows if r["role"] == "held-out"]
    Console().print(f"held-out checks: {len(held)}, model/published from {min(held):.2f} to {max(held):.2f}; "
                    f"results in {out}/")  # fmt: skip
