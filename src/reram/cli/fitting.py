"""``reram fit``: measured device data -> a preset."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from reram.cli.app import app
from reram.cli.common import clean_errors, fail, out_dir


@app.command(name="fit")
def fit_cmd(
    kind: str = typer.Argument(
        ..., help="read | program | relax | pulse | iv | endurance (the CSV's columns: see the README)."
    ),
    data: Path = typer.Argument(..., help="The measurements: CSV, one row per measurement, SI units in the names."),
    base: str = typer.Option(
        "neurram",
        "--base",
        help="The preset (a name or a TOML file, e.g. an earlier fit's) the fitted fields are written onto.",
    ),
    out: Path = typer.Option(Path("fitted.toml"), "--out", help="The preset file to write (TOML)."),
    name: str = typer.Option("fitted", "--name", help="The written preset's name."),
    report: Path | None = typer.Option(None, "--report", help="Folder for the HTML report: data beside the model."),
    holdout: float | None = typer.Option(
        None, "--holdout", help="relax: a temperature (K) of the data to leave out of the fit and predict."
    ),
) -> None:
    """Fit the project's device model to measured data and write a preset with the fitted fields.

    read: repeated reads (cell, g_S[, v_read_V, bandwidth_Hz, T_K]) -> read-noise model and size.
    program: write-verify results (target_S, g_S[, iterations]) -> band, stuck rates, pulse
    response. relax: conductance over time and bake temperature (g0_S, g_S, t_s[, T_K]) -> the
    relaxation law and its activation energy, or a BER table (bits, T_K, t_s, ber). pulse: SET
    and RESET trains (train, direction, pulse, g_S[, device]) -> the update model. iv: I-V sweeps
    (sweep, v_V, i_A[, state]) -> the cell's sinh nonlinearity v0 and the on/off window. endurance:
    window over cycles (cycles, g_on_S, g_off_S[, device]) -> the narrowing
    law. The preset names the data file and the fit's quality in comments; use it with
    `reram run --config FILE` (or any command's --config / --preset).
    """
    from reram.config import load_config
    from reram.fit import fit, write_fit_report, write_preset

    if out.suffix != ".toml":
        fail(f"--out = {str(out)!r} is invalid: allowed is a .toml file")
    if out.exists() and out.is_dir():
        fail(f"--out = {str(out)!r} is a folder: allowed is a .toml file")
    with clean_errors():  # a bad file (FitDataError) or kind: one line naming file, line and column
        base_cfg = load_config(base)
        result = fit(kind, data, base_cfg, holdout)
        write_preset(result, out, base_cfg, name)
        if report is not None:
            write_fit_report(result, out_dir(report, "--report"))
    t = Table(title=f"reram fit {kind}: {data}")
    for col in ("field", "value", "± std error"):
        t.add_column(col, justify="right")
    for r in result.rows():
        v = r["value"]
        t.add_row(r["field"], f"{v:.6g}" if isinstance(v, float) else str(v),
                  "" if r["stderr"] is None else f"{r['stderr']:.2g}")  # fmt: skip
    Console().print(t)
    Console().print(", ".join(f"{k} = {v:.4g}" for k, v in result.quality.items()))
    Console().print(f"preset written to {out}" + (f"; report in {report}/" if report else ""))
