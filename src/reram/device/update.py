"""How cells respond to update pulses: where a cell's conductance moves during on-chip training.

The state of a cell is its normalised conductance u = (g - g_min) / (g_max - g_min). One pulse
moves u up (SET, potentiation) or down (RESET, depression) by a step that depends on u:

    up:   du = c_up - lam_up * u          down:  du = -(lam_down * u - e_down)

which covers the three models of ``UpdateConfig``: linear (lam = 0, constant steps), soft bounds
(the step shrinks linearly to zero at the bound it approaches) and the exponential curves of the
NeuroSim device model, u(P) = B (1 - exp(-nl P / P_max)) (Chen et al., IEEE TCAD 2018), whose
per-pulse steps are exactly linear in u with lam = nl / P_max. A mix of n_up and n_down pulses
arriving interleaved is the linear ODE du/dt = n_up (c_up - lam_up u) - n_down (lam_down u - e_down)
over one update, solved in closed form (exact for pulses of one sign, the continuum limit for
interleaved ones). Cycle-to-cycle noise adds c2c_sigma * window * sqrt(pulses); each cell has its
own step gains and window (device-to-device spread) and stuck cells do not move; every pulse
counts towards endurance, after which the window narrows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from reram.config import DeviceConfig, UpdateConfig
from reram.device.faults import cell_windows, stuck_cells
from reram.device.program import write_verify
from reram.rng import gaussian_like


@dataclass
class PulseCells:
    """Per-cell state of an array trained by pulses (normalised units; ``u`` and ``pulses`` have
    the array's shape, the others that shape or 0-dim where every cell has the same value).

    Attributes:
        u: the state, normalised conductance (g - g_min) / (g_max - g_min).
        lo, hi: each cell's reachable window (device-to-device spread), normalised.
        c_up, lam_up, lam_down, e_down: per-pulse step coefficients (see the module docstring).
        pulses: update pulses each cell has received (counted when an endurance budget is set).
        stuck: cells that never move.

    """

    u: torch.Tensor
    lo: torch.Tensor
    hi: torch.Tensor
    c_up: torch.Tensor
    lam_up: torch.Tensor
    lam_down: torch.Tensor
    e_down: torch.Tensor
    pulses: torch.Tensor
    stuck: torch.Tensor

    @property
    def any_stuck(self) -> bool:
        """Whether any cell is stuck (cached: stuck cells are drawn once)."""
        cached = self.__dict__.get("_any_stuck")
        if cached is None or cached[0] is not self.stuck:
            cached = (self.stuck, bool(self.stuck.any()))
            self.__dict__["_any_stuck"] = cached
        return cached[1]


def _gain(nl: float) -> float:
    """The exponential curve's initial slope relative to the linear one, nl / (1 - exp(-nl))."""
    return nl / -math.expm1(-nl) if nl > 0 else 1.0


def init_cells(
    shape: tuple[int, ...], cfg: DeviceConfig, gen: torch.Generator, device: torch.device | str = "cpu"
) -> PulseCells:
    """Draw a fresh array's cells (windows, step gains, stuck cells), all at u = 0.5.

    Coefficients that are the same for every cell (no device-to-device spread, no stuck cells)
    are kept as 0-dim tensors that broadcast, so that an update reads only the state.
    """
    dev = torch.device(device)
    upd, span = cfg.update, cfg.g_max_S - cfg.g_min_S
    if cfg.d2d_window_sigma > 0:
        g_lo, g_hi = cell_windows(shape, cfg, gen, dev)
        lo, hi = (g_lo - cfg.g_min_S) / span, (g_hi - cfg.g_min_S) / span
    else:
        lo, hi = torch.tensor(0.0, device=dev), torch.tensor(1.0, device=dev)
    if cfg.stuck_low_rate + cfg.stuck_high_rate > 0:
        low, high = stuck_cells(shape, cfg, gen, dev)
    else:
        low = high = torch.tensor(False, device=dev)
    gains = []
    for _ in range(2):
        if upd.d2d_sigma > 0:
            s = upd.d2d_sigma
            gains.append(torch.exp(s * torch.randn(shape, generator=gen, device=dev) - s * s / 2))
        else:
            gains.append(torch.tensor(1.0, device=dev))
    w = hi - lo
    if upd.model == "linear":
        lam_up, lam_down = torch.zeros_like(w), torch.zeros_like(w)
        c_up, e_down = w / upd.pulses_up, -w / upd.pulses_down
    elif upd.model == "soft_bounds":  # step (hi - u) / P up, (u - lo) / P down
        lam_up, lam_down = torch.full_like(w, 1 / upd.pulses_up), torch.full_like(w, 1 / upd.pulses_down)
        c_up, e_down = hi / upd.pulses_up, lo / upd.pulses_down
    else:  # exponential: B_up = lo + w / (1 - exp(-nl_up)), B_down = hi - w / (1 - exp(-nl_down))
        lam_up = torch.full_like(w, upd.nl_up / upd.pulses_up)
        lam_down = torch.full_like(w, upd.nl_down / upd.pulses_down)
        c_up = w / upd.pulses_up * _gain(upd.nl_up) + lam_up * lo
        e_down = lam_down * hi - w / upd.pulses_down * _gain(upd.nl_down)
    u = torch.full(shape, 0.5, device=dev).clamp_(lo, hi)
    stuck = low | high
    if stuck.any():
        u = torch.where(low, lo, torch.where(high, hi, u))
    return PulseCells(
        u=u,
        lo=lo,
        hi=hi,
        c_up=c_up * gains[0],
        lam_up=lam_up * gains[0],
        lam_down=lam_down * gains[1],
        e_down=e_down * gains[1],
        pulses=torch.zeros(shape, device=dev),
        stuck=stuck,
    )


def window(cells: PulseCells, cfg: UpdateConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Each cell's present window: its own [lo, hi], narrowed towards the middle after
    ``endurance_cycles`` pulses by ``endurance_narrowing`` of the window per decade beyond.
    """
    if cfg.endurance_cycles <= 0:
        return cells.lo, cells.hi
    decades = torch.log10(torch.clamp_min(cells.pulses / cfg.endurance_cycles, 1.0))
    shrink = torch.clamp_max(cfg.endurance_narrowing * decades, 0.95) * (cells.hi - cells.lo) / 2
    return cells.lo + shrink, cells.hi - shrink


def steps(cells: PulseCells, u: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(up, down) magnitude of one pulse's step at state ``u`` (default: the present state)."""
    u = cells.u if u is None else u
    return cells.c_up - cells.lam_up * u, cells.lam_down * u - cells.e_down


def apply_pulses(
    cells: PulseCells, n_up: torch.Tensor, n_down: torch.Tensor, cfg: UpdateConfig, gen: torch.Generator | None
) -> None:
    """Apply ``n_up`` SET and ``n_down`` RESET pulses per cell (counts >= 0, any real value), in place."""
    u = cells.u
    drive = torch.addcmul(n_up * cells.c_up, n_down, cells.e_down)  # du/dt = drive - k u over the update
    if cfg.model == "linear":
        du = drive
    else:  # du = (drive - k u) (1 - exp(-k)) / k, the factor -> 1 as k -> 0; m = -k
        m = torch.addcmul(n_up * cells.lam_up, n_down, cells.lam_down).neg_().clamp_max_(-1e-30)
        du = torch.addcmul(drive, m, u).mul_(torch.expm1(m).div_(m))
    if cfg.c2c_sigma > 0:  # std c2c_sigma (fraction of the window) per pulse, independent pulses
        noise = gaussian_like(u, gen)
        root_n = torch.add(n_up, n_down).sqrt_()
        width = cells.hi - cells.lo
        if width.dim() == 0:  # one window for all cells
            du.addcmul_(noise, root_n, value=cfg.c2c_sigma * float(width))
        else:
            du.addcmul_(noise.mul_(root_n), width, value=cfg.c2c_sigma)
    if cells.any_stuck:
        du.masked_fill_(cells.stuck, 0.0)
    if cfg.endurance_cycles > 0:
        cells.pulses.add_(n_up).add_(n_down)
    lo, hi = window(cells, cfg)
    torch.clamp(du.add_(u), lo, hi, out=cells.u)


def set_state(cells: PulseCells, target_u: torch.Tensor, cfg: DeviceConfig, gen: torch.Generator | None) -> None:
    """Program cells to ``target_u`` (write-verify or open-loop, per ``cfg.program_mode``), in place.

    The residual error is Gaussian with ``program_sigma_S`` ("gaussian"), what the device's
    iterative pulse-and-verify loop leaves (``reram.device.program.write_verify``,
    "write_verify", within each cell's present window) or zero ("exact"); stuck cells stay.
    """
    span = cfg.g_max_S - cfg.g_min_S
    u = target_u.to(cells.u.dtype)
    lo, hi = window(cells, cfg.update)
    if cfg.program_mode == "gaussian" and cfg.program_sigma_S > 0:
        u = u + cfg.program_sigma_S / span * torch.randn(u.shape, generator=gen, device=u.device, dtype=u.dtype)
    elif cfg.program_mode == "write_verify":
        g_lo, g_hi = (cfg.g_min_S + (b * span).expand(u.shape) for b in (lo, hi))
        g, _, _, _ = write_verify(cfg.g_min_S + u.clamp(lo, hi) * span, g_lo, g_hi, cfg, gen)
        u = ((g - cfg.g_min_S) / span).to(u.dtype)
    u = torch.minimum(torch.maximum(u, lo), hi)
    cells.u.copy_(torch.where(cells.stuck, cells.u, u) if cells.any_stuck else u)


def conductance_S(cells: PulseCells, cfg: DeviceConfig) -> torch.Tensor:
    """The cells' conductances (siemens)."""
    return cfg.g_min_S + cells.u * (cfg.g_max_S - cfg.g_min_S)
