"""A fit's outcome: the preset fields it sets (with uncertainties), its quality, its figure, and
the files ``reram fit`` writes from it (a preset TOML that names the data and the fit's quality
in comments, and an HTML report with the data beside the fitted model and the residuals).
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from reram.config import Config, load_config, override
from reram.report import write_html_report
from reram.report.plots import plt, save_figure
from reram.report.writers import write_atomic


@dataclass
class Curve:
    """One panel of the fit's figure: measured points and the fitted model on the same x."""

    x: np.ndarray
    y: np.ndarray
    model: np.ndarray
    xlabel: str
    ylabel: str
    logx: bool = False
    label: str = "data"


@dataclass
class FitResult:
    """What a fit found.

    Attributes:
        kind: the data kind ("read", "program", "endurance").
        data: the file fitted.
        params: preset fields (dotted, e.g. "device.read_noise_rel") -> fitted value.
        stderr: the same fields -> standard error (absent: not estimated, e.g. a choice).
        quality: goodness-of-fit figures (R^2, RMSE, log-likelihoods, counts).
        curves: the data and the model, for the report.
        notes: sentences for the report and the preset's comments.

    """

    kind: str
    data: Path
    params: dict[str, Any]
    stderr: dict[str, float] = field(default_factory=dict)
    quality: dict[str, float] = field(default_factory=dict)
    curves: list[Curve] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def overrides(self) -> dict[str, Any]:
        """The fitted fields as nested config tables."""
        out: dict[str, Any] = {}
        for path, value in self.params.items():
            node = out
            *heads, leaf = path.split(".")
            for h in heads:
                node = node.setdefault(h, {})
            node[leaf] = value
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per fitted field: value and standard error."""
        return [{"field": k, "value": v, "stderr": self.stderr.get(k)} for k, v in self.params.items()]


def write_preset(result: FitResult, path: Path, base: Config, name: str) -> Path:
    """Write a complete preset: ``base`` with the fitted fields (loadable on its own, and as
    another fit's ``--base``), checked by loading it before anything is written.

    Raises:
        reram.ConfigError: if a fitted value is outside what the config allows (nothing is written).

    """
    fitted = dataclasses.replace(override(base, result.overrides()), name=name)
    data = {"base": "none", **fitted.to_dict()}
    if load_config(dict(data)) != fitted:  # the file must give back exactly this config
        raise ValueError(f"the fitted preset {name!r} does not round-trip through TOML")
    lines = [f"# reram fit {result.kind}: {result.data} onto {base.name!r} ({datetime.date.today().isoformat()})"]
    lines += [f"# {k} = {v:.6g} +- {result.stderr[k]:.2g}" if k in result.stderr else f"# {k} = {v!r}"
              for k, v in result.params.items()]  # fmt: skip
    lines += [f"# fit quality: {k} = {v:.6g}" for k, v in result.quality.items()]
    lines += [f"# {n}" for n in result.notes]
    return write_atomic(path, "\n".join(lines) + "\n" + tomli_w.dumps(data))


def write_fit_report(result: FitResult, folder: Path) -> Path:
    """The data beside the fitted model (and the residuals below) per panel, in an HTML report."""
    folder.mkdir(parents=True, exist_ok=True)
    pngs = []
    for i, c in enumerate(result.curves):
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5.5), sharex=True, height_ratios=(3, 1))
        order = np.argsort(c.x)
        top.plot(c.x, c.y, ".", ms=3, alpha=0.6, label=c.label)
        top.plot(c.x[order], c.model[order], "-", lw=1.6, label="fitted model")
        bottom.plot(c.x, c.y - c.model, ".", ms=3, alpha=0.6)
        bottom.axhline(0.0, color="k", lw=0.8)
        for ax in (top, bottom):
            if c.logx:
                ax.set_xscale("log")
        top.set_ylabel(c.ylabel)
        top.legend()
        bottom.set_ylabel("residual")
        bottom.set_xlabel(c.xlabel)
        top.set_title(f"reram fit {result.kind}: {result.data.name}")
        pngs.append(save_figure(fig, folder / f"fit_{result.kind}_{i}.png"))
    quality = [{"figure": k, "value": v} for k, v in result.quality.items()]
    intro = [f"Fit of {result.kind} data from {result.data}."] + result.notes
    return write_html_report(folder / "fit_report.html", f"reram fit {result.kind}",
                             [("Fitted fields", result.rows()), ("Quality of the fit", quality)], pngs,
                             intro)  # fmt: skip
