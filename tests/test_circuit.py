"""Crossbar circuit solver: ideal limit, Kirchhoff, monotone drops, symmetry, effective matrix, errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reram.array.circuit import Wires, effective_matrix, kcl_residual, solve_crossbar

_R = st.one_of(st.just(0.0), st.floats(1e-3, 20.0))  # segment resistances (ohms)


def _array(rows: int, cols: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    g = 1e-6 + 39e-6 * torch.rand(rows, cols, generator=gen, dtype=torch.float64)
    v = 0.2 * torch.rand(5, rows, generator=gen, dtype=torch.float64)
    return g, v


def test_zero_wire_resistance_is_the_ideal_product() -> None:
    g, v = _array(12, 7)
    sol = solve_crossbar(g, v, Wires(0.0, 0.0))
    assert torch.equal(sol.currents_A, v @ g)


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 12), st.integers(1, 12), _R, _R, st.floats(0.0, 50.0), st.floats(0.0, 50.0), st.floats(0.0, 2e3),
    st.integers(0, 10**6),
)  # fmt: skip
def test_current_is_conserved_at_every_node(rows, cols, r_row, r_col, r_src, r_sense, r_acc, seed) -> None:  # type: ignore[no-untyped-def]
    g, v = _array(rows, cols, seed)
    w = Wires(r_row, r_col, r_src if r_row > 0 else 0.0, r_sense if r_col > 0 else 0.0, r_acc)
    sol = solve_crossbar(g, v, w, node_voltages=True)
    assert float(kcl_residual(g, v, sol, w)) <= 1e-9
    # total current in = total current out: what the drivers push reaches the sense amplifiers
    assert sol.currents_A.shape == (5, cols)


def test_drops_are_monotone_along_the_lines() -> None:
    g, _ = _array(16, 16)
    v = torch.full((1, 16), 0.2, dtype=torch.float64)
    sol = solve_crossbar(g, v, Wires(2.0, 2.0), node_voltages=True)
    assert sol.row_V is not None and sol.col_V is not None
    assert bool((sol.row_V[0].diff(dim=1) <= 1e-15).all())  # row voltage falls away from the driver
    assert bool((sol.col_V[0].diff(dim=0) <= 1e-15).all())  # column voltage falls towards the virtual ground
    ideal = v @ g
    assert bool((sol.currents_A < ideal).all())  # IR drop only loses current


def test_symmetric_array_gives_symmetric_answers() -> None:
    g, _ = _array(10, 10)
    g = g.flip(1)  # mirror columns: a mirrored array with mirrored inputs gives mirrored outputs
    v = torch.rand(3, 10, dtype=torch.float64)
    a = solve_crossbar(g, v, Wires(1.0, 1.0)).currents_A
    b = solve_crossbar(g.flip(0), v.flip(1), Wires(1.0, 1.0)).currents_A
    assert not torch.allclose(a, b)  # rows are not interchangeable (the driver is on one side)...
    # ...but identical columns give identical outputs
    gc = g[:, :1].expand(-1, 10).contiguous()
    out = solve_crossbar(gc, v, Wires(0.0, 1.0)).currents_A
    assert torch.allclose(out, out[:, :1].expand_as(out), rtol=1e-12)


def test_effective_matrix_equals_per_input_solve() -> None:
    g, v = _array(20, 9)
    for w in (Wires(1.0, 1.0), Wires(0.0, 3.0), Wires(3.0, 0.0), Wires(1.0, 2.0, 5.0, 10.0, 1e3)):
        a = effective_matrix(g, w)
        assert torch.allclose(v @ a, solve_crossbar(g, v, w).currents_A, rtol=1e-10, atol=0)


def test_ir_drop_grows_with_size_and_resistance() -> None:
    dev = []
    for n in (16, 64):
        g, _ = _array(n, n)
        v = torch.full((1, n), 0.2, dtype=torch.float64)
        ideal = v @ g
        dev.append([float(((ideal - solve_crossbar(g, v, Wires(r, r)).currents_A) / ideal).max()) for r in (0.5, 2.0)])
    assert dev[0][0] < dev[0][1] and dev[0][0] < dev[1][0] and dev[1][0] < dev[1][1]


@pytest.mark.parametrize(
    ("g", "v", "msg"),
    [(torch.ones(3), torch.ones(1, 3), "g_S has shape"), (torch.ones(3, 2), torch.ones(1, 2), "v_in_V has shape"),
     (-torch.ones(3, 2), torch.ones(1, 3), "negative"), (torch.full((3, 2), float("nan")), torch.ones(1, 3), "NaN"),
     (torch.ones(3, 2), torch.full((1, 3), float("nan")), "NaN")],
)  # fmt: skip
def test_bad_input_is_named(g: torch.Tensor, v: torch.Tensor, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        solve_crossbar(g, v)


def test_negative_resistance_is_named() -> None:
    with pytest.raises(ValueError, match="r_row = -1"):
        Wires(-1.0, 1.0)


def test_networks_run_with_exact_ir_drop() -> None:
    from torch import nn

    import reram

    torch.manual_seed(0)
    base = reram.override(reram.preset("ideal"), {"array": {"rows": 64, "cols": 32}})
    lin, conv = nn.Linear(50, 20), nn.Conv2d(3, 4, 3, padding=1)
    x, xc = torch.rand(4, 50), torch.rand(2, 3, 8, 8)
    errs = []
    for r in (0.0, 1.0, 5.0):
        cfg = reram.override(base, {"array": {"ir_drop": "exact", "r_wire_ohm": r}})
        errs.append([])
        for m, inp in ((lin, x), (conv, xc)):
            a = reram.convert(m, cfg)
            a.program()
            with torch.no_grad():
                errs[-1].append(float((a(inp) - m(inp)).abs().max() / m(inp).abs().max()))
    assert max(errs[0]) < 1e-5  # zero wire resistance: the ideal result
    assert all(e0 < e1 < e2 for e0, e1, e2 in zip(*errs, strict=True))  # more resistance, more error
    with pytest.raises(reram.ConfigError, match="array.ir_drop"):
        reram.override(base, {"array": {"ir_drop": "maybe"}})
