"""Read disturb: the small conductance change that many reads leave behind.

A read drops V_read across a cell for its pulse; far below the switching voltage, each read
still nudges the filament a little in its polarity's direction. The change follows the
voltage-time dilemma of filamentary switching (switching time falls exponentially with the
voltage): a cell read ``reads`` times by pulses of ``t_pulse_s`` at V_read, of which a share
``duty`` is non-zero, has been stressed for the equivalent time at ``read_disturb_v_ref_V``

    s = reads * duty * t_pulse_s * exp((|V_read| - V_ref) / read_disturb_v0_V),

and has moved a fraction f(s) = min(1, |rate| * log10(max(1, s / read_disturb_onset_s))) of its
way toward the window's edge (g_max for ``read_disturb_per_decade`` > 0, SET-polarity reads;
g_min for < 0): nothing before the onset, then ``rate`` per decade of stress. As with
relaxation, disturbing in several steps or one gives the same state: going from stress s0 to s1
moves the cell (f(s1) - f(s0)) / (1 - f(s0)) of its remaining distance. Stuck cells do not move.
"""

from __future__ import annotations

import math

import torch

from reram.config import DeviceConfig


def read_stress_s(reads: float, v_read_V: float, t_pulse_s: float, cfg: DeviceConfig, duty: float = 1.0) -> float:
    """Equivalent stress time at ``read_disturb_v_ref_V`` of ``reads`` read pulses (seconds)."""
    if not (reads >= 0 and math.isfinite(reads)):
        raise ValueError(f"reads = {reads!r} is invalid: allowed is a finite count >= 0")
    if not 0 <= duty <= 1:
        raise ValueError(f"duty = {duty!r} is invalid: allowed is the share of non-zero pulses in [0, 1]")
    accel = math.exp((abs(v_read_V) - cfg.read_disturb_v_ref_V) / cfg.read_disturb_v0_V)
    return reads * duty * t_pulse_s * accel


def disturbed_fraction(stress_s: float, cfg: DeviceConfig) -> float:
    """Fraction of its way to the window's edge a cell has moved after ``stress_s`` (see the module docstring)."""
    if cfg.read_disturb_per_decade == 0 or stress_s <= cfg.read_disturb_onset_s:
        return 0.0
    return min(1.0, abs(cfg.read_disturb_per_decade) * math.log10(stress_s / cfg.read_disturb_onset_s))


def disturb(g_S: torch.Tensor, frozen: torch.Tensor, s0: float, s1: float, cfg: DeviceConfig) -> torch.Tensor:
    """Cells at ``g_S`` (siemens) after their read stress grows from ``s0`` to ``s1`` seconds."""
    f0, f1 = disturbed_fraction(s0, cfg), disturbed_fraction(s1, cfg)
    if f1 <= f0:
        return g_S
    step = (f1 - f0) / (1 - f0) if f0 < 1 else 1.0
    edge = cfg.g_max_S if cfg.read_disturb_per_decade > 0 else cfg.g_min_S
    moved = g_S + step * (edge - g_S)
    return torch.where(frozen | (g_S == 0), g_S, moved)  # stuck and unconnected cells stay
