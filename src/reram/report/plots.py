"""Figures of a run (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from reram.report.writers import write_atomic  # noqa: E402


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Write a figure as PNG, atomically, and close it."""
    import io

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return write_atomic(path, buf.getvalue())


def accuracy_bars(rows: list[dict[str, object]], path: Path) -> Path:
    """Bar chart of accuracy (%) per condition."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    labels = [str(r["condition"]) for r in rows]
    values = [float(r["accuracy_pct"]) for r in rows]  # type: ignore[arg-type]
    bars = ax.bar(labels, values, color=["#4c72b0"] + ["#dd8452"] * (len(rows) - 1))
    ax.bar_label(bars, fmt="%.2f")
    ax.set_ylim(0, 100)  # bars start at zero: the differences are shown at their size
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("float vs analog")
    return save_figure(fig, path)


def conductance_histogram(target_uS: np.ndarray, programmed: dict[str, np.ndarray], path: Path) -> Path:
    """Histogram of target vs programmed (and aged) conductances (uS)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    hi = max(float(target_uS.max()), *(float(v.max()) for v in programmed.values()))
    bins = np.linspace(0, hi * 1.02, 160)
    ax.hist(target_uS, bins=list(bins), histtype="stepfilled", alpha=0.35, label="target", color="gray")
    for name, g in programmed.items():
        ax.hist(g, bins=list(bins), histtype="step", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("conductance (µS)")
    ax.set_ylabel("cells")
    ax.legend()
    return save_figure(fig, path)


def layer_errors(rows: list[dict[str, object]], path: Path) -> Path:
    """Relative RMS output error per analog layer, one series per condition."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    conds = list(dict.fromkeys(str(r["condition"]) for r in rows))
    layers = list(dict.fromkeys(str(r["layer"]) for r in rows))
    width = 0.8 / max(len(conds), 1)
    for k, c in enumerate(conds):
        vals = [
            next(float(r["rel_rms_error"]) for r in rows if r["condition"] == c and r["layer"] == la)  # type: ignore[arg-type]
            for la in layers
        ]  # type: ignore[arg-type]
        ax.bar(np.arange(len(layers)) + k * width, vals, width, label=c)
    ax.set_xticks(np.arange(len(layers)) + width * (len(conds) - 1) / 2, layers)
    ax.set_xlabel("layer")
    ax.set_ylabel("relative RMS output error")
    ax.legend()
    return save_figure(fig, path)


def accuracy_table(rows: list[dict[str, object]], path: Path) -> Path:
    """Grouped bars of mean accuracy (%) per condition and age, with +-std error bars."""
    conds = list(dict.fromkeys(str(r["condition"]) for r in rows))
    ages = list(dict.fromkeys(str(r["age"]) for r in rows))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(ages), 1)
    for k, a in enumerate(ages):
        xs, means, stds = [], [], []
        for i, c in enumerate(conds):
            r = next((r for r in rows if r["condition"] == c and r["age"] == a), None)
            if r is not None:
                xs.append(i + k * width)
                means.append(float(r["mean_pct"]))  # type: ignore[arg-type]
                stds.append(float(r["std_pct"]))  # type: ignore[arg-type]
        ax.bar(xs, means, width, yerr=stds, capsize=3, label=a)
    ax.set_ylim(0, 100)  # bars start at zero: the differences are shown at their size
    ax.set_xticks([i + width * (len(ages) - 1) / 2 for i in range(len(conds))], conds, rotation=15, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(title="after programming")
    return save_figure(fig, path)


def cost_layers(layers: list[dict[str, float]], components: list[str], path: Path) -> Path:
    """Stacked bars: energy per inference (nJ) of each layer, split by component."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(layers) + 3), 3.8))
    names = [str(r["layer"]) for r in layers]
    bottom = np.zeros(len(layers))
    cmap = plt.get_cmap("tab20")
    for k, comp in enumerate(components):
        vals = np.array([float(r.get(comp, 0.0)) * 1e9 for r in layers])
        if vals.sum() <= 0:
            continue
        ax.bar(names, vals, bottom=bottom, label=comp, color=cmap(k))
        bottom += vals
    ax.set_ylabel("energy per inference (nJ)")
    ax.set_xlabel("layer")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("energy by layer and component")
    return save_figure(fig, path)


def cost_components(components_J: dict[str, float], path: Path) -> Path:
    """Horizontal bars: energy per inference (nJ) by component, with shares."""
    items = [(k, v * 1e9) for k, v in components_J.items() if v > 0]
    total = sum(v for _, v in items) or 1.0
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(items) + 1.2))
    bars = ax.barh([k for k, _ in items], [v for _, v in items], color="#4c72b0")
    ax.bar_label(bars, labels=[f"{v:.3g} nJ ({100 * v / total:.0f} %)" for _, v in items], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("energy per inference (nJ)")
    ax.set_title("energy by component")
    return save_figure(fig, path)


def irdrop_accuracy(points: list[dict[str, float]], float_pct: float, path: Path) -> Path:
    """Accuracy (%) against wire-segment resistance (ohms): one panel per sensing mode, one colour
    per array size; solid: as trained, dashed: IR drop in the training loop (chip-in-the-loop).
    """
    modes = sorted({str(p.get("sensing", "current")) for p in points})
    fig, axes = plt.subplots(1, len(modes), figsize=(5 * len(modes), 3.8), squeeze=False, sharey=True)
    for ax, mode in zip(axes[0], modes, strict=True):
        pts_m = [p for p in points if str(p.get("sensing", "current")) == mode]
        for k, n in enumerate(sorted({int(p["array"]) for p in pts_m})):
            pts = sorted((p for p in pts_m if int(p["array"]) == n), key=lambda p: p["r_wire_ohm"])
            r = [p["r_wire_ohm"] for p in pts]
            ax.plot(r, [p["acc_plain_pct"] for p in pts], "o-", color=f"C{k}", label=f"{n}x{n}, as trained")
            ax.plot(r, [p["acc_in_loop_pct"] for p in pts], "s--", color=f"C{k}", label=f"{n}x{n}, IR drop in loop")
        ax.axhline(float_pct, color="k", lw=0.8, ls=":", label="float software")
        ax.set_xlabel("wire segment resistance (ohm)")
        ax.set_title(f"{mode} sensing, exact IR drop")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("test accuracy (%)")
    return save_figure(fig, path)


def recovery_grid(clean: np.ndarray, shown: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """Images (N, 784): the clean row, then per corruption the corrupted and the recovered rows."""
    rows = [("clean", clean)] + [r for name, (bad, rec) in shown.items() for r in ((name, bad), ("recovered", rec))]
    n = len(clean)
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n, 1.2 * len(rows)), squeeze=False)
    for i, (label, imgs) in enumerate(rows):
        for j in range(n):
            ax = axes[i][j]
            ax.imshow(np.asarray(imgs[j], dtype=float).reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i][0].set_ylabel(label, fontsize=7)
    fig.suptitle("RBM image recovery on the transposable array (neurram preset)", fontsize=9)
    return save_figure(fig, path)


def training_curves(curves: dict[str, list[float]], path: Path) -> Path:
    """Test accuracy (%) per epoch: one panel per device (its schemes), float SGD in every panel."""
    ref = {k: v for k, v in curves.items() if k.startswith("float")}
    devices = list(dict.fromkeys(k.split(" ")[0] for k in curves if k not in ref))
    fig, axes = plt.subplots(1, max(1, len(devices)), figsize=(4.2 * max(1, len(devices)), 3.6), squeeze=False,
                             sharey=True)  # fmt: skip
    for ax, dev in zip(axes[0], devices or ["-"], strict=True):
        for name, c in ref.items():
            ax.plot(range(1, len(c) + 1), c, "k--", lw=1.2, label=name)
        for k, (name, c) in enumerate((n, c) for n, c in curves.items() if n.split(" ")[0] == dev and n not in ref):
            ax.plot(range(1, len(c) + 1), c, "o-", color=f"C{k}", ms=3, label=name.split(" ", 1)[1])
        ax.set_title(f"{dev} device")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("test accuracy (%)")
    fig.suptitle("On-chip training (mean over seeds)", fontsize=9)
    return save_figure(fig, path)


def reliability_heatmap(rows: list[dict[str, object]], method: str, path: Path) -> Path:
    """Accuracy (%) as a heat map: time after programming x temperature, for one correction."""
    pts = [r for r in rows if r["method"] == method]
    times = sorted({float(r["age_s"]) for r in pts})  # type: ignore[arg-type]
    temps = sorted({float(r["temperature_C"]) for r in pts})  # type: ignore[arg-type]
    grid = np.full((len(temps), len(times)), np.nan)
    labels = {}
    for r in pts:
        i, j = temps.index(float(r["temperature_C"])), times.index(float(r["age_s"]))  # type: ignore[arg-type]
        grid[i, j] = float(r["accuracy_pct"])  # type: ignore[arg-type]
        labels[j] = str(r.get("age", r["age_s"]))
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(times), 1.2 + 0.6 * len(temps)))
    im = ax.imshow(grid, aspect="auto", cmap="viridis", origin="lower")
    for i in range(len(temps)):
        for j in range(len(times)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_xticks(range(len(times)), [labels[j] for j in range(len(times))], rotation=30)
    ax.set_yticks(range(len(temps)), [f"{t:g} °C" for t in temps])
    ax.set_xlabel("time after programming")
    ax.set_ylabel("storage and read temperature")
    ax.set_title(f"accuracy (%), correction: {method}")
    fig.colorbar(im, ax=ax)
    return save_figure(fig, path)


def reliability_curves(rows: list[dict[str, object]], float_pct: float, path: Path) -> Path:
    """Accuracy vs time after programming: one panel per correction, a line per temperature with
    its ±std band over the seeds.
    """
    temps = sorted({float(r["temperature_C"]) for r in rows})  # type: ignore[arg-type]
    methods = [m for m in ("none", "global", "column", "recalibrated") if any(r["method"] == m for r in rows)]
    cols = min(2, len(methods))
    n_rows = (len(methods) + cols - 1) // cols
    fig, axes = plt.subplots(n_rows, cols, figsize=(4.2 * cols, 3.0 * n_rows), sharex=True, sharey=True, squeeze=False)
    colors = plt.cm.plasma(np.linspace(0, 0.85, len(temps)))
    for ax, m in zip(axes.flat, methods, strict=False):
        for c, t_c in zip(colors, temps, strict=True):
            pts = sorted((r for r in rows if r["temperature_C"] == t_c and r["method"] == m),
                         key=lambda r: float(r["age_s"]))  # type: ignore[arg-type]  # fmt: skip
            x = np.array([float(r["age_s"]) for r in pts])  # type: ignore[arg-type]
            y = np.array([float(r["accuracy_pct"]) for r in pts])  # type: ignore[arg-type]
            e = np.array([float(r["std_pct"]) for r in pts])  # type: ignore[arg-type]
            ax.plot(x, y, color=c, label=f"{t_c:g} °C")
            ax.fill_between(x, y - e, y + e, color=c, alpha=0.15)
        ax.axhline(float_pct, color="k", lw=0.8, ls="--", label="float")
        ax.set_xscale("log")
        ax.set_title(f"correction: {m}", fontsize=9)
        ax.set_xlabel("time after programming (s)")
        ax.set_ylabel("accuracy (%)")
    for ax in list(axes.flat)[len(methods) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    return save_figure(fig, path)


def bench_panels(rows: list[dict[str, object]], columns: dict[str, str], path: Path) -> Path:
    """One panel per task: a bar per column (``columns``: row key -> label) with its ``<key>_std``
    as error bar, on the task's own metric (accuracy, perplexity, ...).
    """
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.5), squeeze=False)
    for ax, r in zip(axes[0], rows, strict=True):
        values = [float(r[k]) for k in columns]  # type: ignore[arg-type]
        errs = [float(r.get(f"{k}_std", 0.0)) for k in columns]  # type: ignore[arg-type]
        bars = ax.bar(list(columns.values()), values, yerr=errs, capsize=4,
                      color=["#4c72b0"] + ["#dd8452"] * (len(columns) - 1))  # fmt: skip
        ax.bar_label(bars, fmt="%.2f")
        ax.set_ylim(0, max(values) * 1.15)  # from zero: differences at their size
        ax.set_ylabel(str(r["metric"]))
        ax.set_title(str(r["task"]), fontsize=9)
    return save_figure(fig, path)


def placement_map(sites: list[tuple[int, int, int]], n_chips: int, cores: int, layer_names: list[str],
                  path: Path) -> Path:  # fmt: skip
    """Chips x cores, each used core coloured by its layer's place in the network (a pipeline
    shows as a gradient along the chips, tensor parallel as stripes); unused cores white.

    Args:
        sites: (chip, core, layer index) of every tile.
        n_chips, cores: the system's size.
        layer_names: in network order (the colour bar's ends are named).
        path: the PNG to write.

    """
    grid = np.full((cores, n_chips), np.nan)
    for chip, core, layer in sites:
        grid[core, chip] = layer
    fig, ax = plt.subplots(figsize=(min(14.0, 3 + n_chips * 0.12), 3.6))
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("white")
    top = max(1, len(layer_names) - 1)
    im = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap=cmap, origin="lower",
                   extent=(-0.5, n_chips - 0.5, -0.5, cores - 0.5), vmin=0, vmax=top)  # fmt: skip
    ax.set_xlabel("chip")
    ax.set_ylabel("core")
    bar = fig.colorbar(im, ax=ax)
    bar.set_label("layer (network order)")
    if layer_names:
        bar.set_ticks([0, len(layer_names) - 1])
        bar.set_ticklabels([layer_names[0], layer_names[-1]])
    ax.set_title(f"placement: {len(sites)} tiles on {n_chips} chip(s) of {cores} cores")
    return save_figure(fig, path)
