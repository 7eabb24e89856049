"""Measured device data -> a preset: ``reram fit KIND DATA`` (kinds ``read``, ``program``, ``relax``,
``pulse``, ``iv``, ``endurance``).

Each kind reads a documented CSV (:mod:`reram.fit.tables`), fits the project's own device
model to it and returns a :class:`~reram.fit.result.FitResult`; :func:`write_preset` writes the
fitted fields onto a base preset (usable by every command) and :func:`write_fit_report` shows
the data beside the model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reram.config import Config
from reram.fit import endurance, iv, noise, programming, pulses, relaxation
from reram.fit.result import FitResult, write_fit_report, write_preset
from reram.fit.tables import FitDataError, describe

KINDS: dict[str, tuple[Callable[[str | Path, Config], FitResult], list]] = {
    "read": (noise.fit_read, noise.COLUMNS),
    "program": (programming.fit_program, programming.COLUMNS),
    "relax": (relaxation.fit_relax, relaxation.COLUMNS),
    "pulse": (pulses.fit_pulse, pulses.COLUMNS),
    "iv": (iv.fit_iv, iv.COLUMNS),
    "endurance": (endurance.fit_endurance, endurance.COLUMNS),
}


def fit(kind: str, data: str | Path, base: Config, holdout: float | None = None) -> FitResult:
    """Fit ``data`` of ``kind`` onto ``base`` (``holdout``: a temperature, kelvin, that ``relax``
    leaves out of the fit and predicts).

    Raises:
        ValueError: for an unknown kind (the message lists the kinds and their columns).
        FitDataError: for a bad file (it names the file, the line and the column).

    """
    if kind not in KINDS:
        known = "; ".join(f"{k} ({describe(cols)})" for k, (_, cols) in KINDS.items())
        raise ValueError(f"kind = {kind!r} is unknown: allowed is one of {known}")
    if kind == "relax":
        return relaxation.fit_relax(data, base, holdout)
    if holdout is not None:
        raise ValueError(f"holdout = {holdout!r} is invalid for kind {kind!r}: only 'relax' holds a temperature out")
    return KINDS[kind][0](data, base)


__all__ = ["KINDS", "FitDataError", "FitResult", "fit", "write_fit_report", "write_preset"]
