"""Crossbar circuit solver: ideal limit, Kirchhoff, monotone drops, symmetry, effective matrix, errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reram.array.circuit import (
    Topology,
    Wires,
    approx_crossbar,
    effective_matrix,
    kcl_residual,
    solve_crossbar,
)

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
    assert torch.allclose(out, out[:, :1].expand_as(out), rtol=1e-12, atol=0)


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


def _dense_reference(g: torch.Tensor, v: torch.Tensor, w: Wires, topo: Topology) -> torch.Tensor:
    """Brute-force nodal analysis of the whole grid (2 R C unknowns), one input at a time."""
    r, c = g.shape
    n = 2 * r * c
    out = []
    for vin in v:
        k = torch.zeros(n, n, dtype=torch.float64)
        f = torch.zeros(n, dtype=torch.float64)

        def link(p: int, q: int, cond: float, k: torch.Tensor = k) -> None:
            k[p, p] += cond
            k[q, q] += cond
            k[p, q] -= cond
            k[q, p] -= cond

        def u(i: int, j: int) -> int:
            return i * c + j

        def col(i: int, j: int) -> int:
            return r * c + i * c + j

        for i in range(r):
            for j in range(c):
                link(u(i, j), col(i, j), float(g[i, j]) / (1 + float(g[i, j]) * w.r_access))
                if j + 1 < c:
                    link(u(i, j), u(i, j + 1), 1 / w.r_row)
                if i + 1 < r:
                    link(col(i, j), col(i + 1, j), 1 / w.r_col)
            a0 = 1 / (w.r_row + w.r_source)
            on = bool(vin[i] != 0)
            if on or topo.unselected_rows != "floating":
                k[u(i, 0), u(i, 0)] += a0
                f[u(i, 0)] += a0 * (float(vin[i]) if on or topo.unselected_rows == "driven" else topo.bias_V)
            else:
                k[u(i, 0), u(i, 0)] += topo.leak_S
        r_out = w.r_col + w.r_sense
        g_port = 1 / r_out if topo.sensing == "current" else 1 / (r_out + 1 / topo.leak_S)
        for j in range(c):
            k[col(r - 1, j), col(r - 1, j)] += g_port
        x = torch.linalg.solve(k, f)
        bottom = x[[col(r - 1, j) for j in range(c)]]
        out.append(bottom * g_port if topo.sensing == "current" else bottom * (1 - g_port * r_out))
    return torch.stack(out)


@pytest.mark.parametrize("sensing", ["current", "voltage"])
@pytest.mark.parametrize("unselected", ["driven", "floating", "biased"])
def test_every_topology_matches_brute_force_nodal_analysis(sensing: str, unselected: str) -> None:
    g, v = _array(5, 4, seed=3)
    v[:, 1] = 0.0  # an unselected row in every input
    v[0, 3] = 0.0
    w = Wires(2.0, 3.0, 1.0, 5.0, 100.0)
    topo = Topology(sensing=sensing, unselected_rows=unselected, bias_V=0.05)
    sol = solve_crossbar(g, v, w, topo)
    got = sol.sense_V if sensing == "voltage" else sol.currents_A
    assert got is not None
    ref = _dense_reference(g, v, w, topo)
    assert torch.allclose(got, ref, rtol=1e-9, atol=0)


def test_voltage_sensing_tends_to_the_weighted_average() -> None:
    g, v = _array(8, 6)
    sol = solve_crossbar(g, v, Wires(1e-3, 1e-3), Topology(sensing="voltage"))
    assert sol.sense_V is not None
    ideal = (v @ g) / g.sum(0)  # a floating bit line settles at sum(G V) / sum(G)
    assert torch.allclose(sol.sense_V, ideal, rtol=1e-6, atol=0)
    a = effective_matrix(g, Wires(1.0, 1.0), sensing="voltage")
    sensed = solve_crossbar(g, v, Wires(1.0, 1.0), Topology(sensing="voltage")).sense_V
    assert torch.allclose(v @ a, sensed, rtol=1e-10, atol=0)


def test_floating_rows_open_sneak_paths() -> None:
    # read one cell of a passive array: with the other rows floating, current sneaks through them
    g, _ = _array(8, 8)
    v = torch.zeros(1, 8, dtype=torch.float64)
    v[0, 2] = 0.2
    w = Wires(5.0, 5.0)
    driven = solve_crossbar(g, v, w, Topology(unselected_rows="driven")).currents_A
    floating = solve_crossbar(g, v, w, Topology(unselected_rows="floating")).currents_A
    half = solve_crossbar(g, v, w, Topology(unselected_rows="biased", bias_V=0.1)).currents_A
    assert not torch.allclose(driven, floating, rtol=1e-9)
    assert bool((half > driven).all())  # V/2 on the other rows adds their cells' current to every column


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 19), st.integers(1, 19), st.floats(0.05, 10.0), st.floats(0.05, 10.0), st.integers(0, 10**6))
def test_port_reduction_equals_row_by_row_solve(rows, cols, r_row, r_col, seed) -> None:  # type: ignore[no-untyped-def]
    # nested dissection (padding to leaf x 2^k) against block elimination, odd shapes included
    g, v = _array(rows, cols, seed)
    w = Wires(r_row, r_col, 0.5, 2.0)
    by_rows = solve_crossbar(g, v, w, node_voltages=True).currents_A
    assert torch.allclose(v @ effective_matrix(g, w), by_rows, rtol=1e-9, atol=1e-18)


def test_current_in_equals_current_out() -> None:
    g, v = _array(9, 7)
    w = Wires(2.0, 1.0, 3.0, 4.0)
    sol = solve_crossbar(g, v, w, node_voltages=True)
    assert sol.row_V is not None
    pushed = ((v - sol.row_V[:, :, 0]) / (w.r_row + w.r_source)).sum(1)
    assert torch.allclose(pushed, sol.currents_A.sum(1), rtol=1e-9, atol=0)


def test_nonlinear_cells_obey_kirchhoff_and_tend_to_linear() -> None:
    g, v = _array(10, 8)
    v = 1.5 * v
    w = Wires(2.0, 2.0)
    sol = solve_crossbar(g, v, w, node_voltages=True, v0_V=0.15)
    assert float(kcl_residual(g, v, sol, w, v0_V=0.15)) <= 1e-9
    linear = solve_crossbar(g, v, w).currents_A
    assert bool((sol.currents_A > linear).all())  # sinh cells conduct more than their small-signal G
    assert torch.allclose(solve_crossbar(g, v, w, v0_V=1e4).currents_A, linear, rtol=1e-8, atol=0)
    ideal_nl = (g[None] * 0.15 * torch.sinh(v[:, :, None] / 0.15)).sum(1)
    assert torch.allclose(solve_crossbar(g, v, Wires(0.0, 0.0), v0_V=0.15).currents_A, ideal_nl, rtol=1e-12, atol=0)


def test_approximations_state_their_error() -> None:
    g, v = _array(32, 32)
    w = Wires(1.0, 1.0)
    exact = solve_crossbar(g, v, w).currents_A
    errs = [float(((approx_crossbar(g, v, w, sweeps=s).currents_A - exact) / exact).abs().max()) for s in (1, 2, 3)]
    assert errs[0] < 1e-3 and errs[1] < 1e-7 and errs[2] < errs[1]  # alternating lines converge fast
    nl = solve_crossbar(g, 1.5 * v, w, v0_V=0.15).currents_A
    assert float(((approx_crossbar(g, 1.5 * v, w, sweeps=3, v0_V=0.15).currents_A - nl) / nl).abs().max()) < 1e-6
    # exact when one kind of line is ideal
    for w1 in (Wires(0.0, 2.0), Wires(2.0, 0.0)):
        assert torch.allclose(
            approx_crossbar(g, v, w1, sweeps=1).currents_A, solve_crossbar(g, v, w1).currents_A, rtol=1e-12
        )
    # the first-order matrix: error second order in the resistance
    fo = []
    for r in (0.25, 0.5):
        wr = Wires(r, r, 2 * r, 3 * r)
        ex = effective_matrix(g, wr)
        fo.append(float(((v @ effective_matrix(g, wr, method="first_order") - v @ ex) / (v @ ex)).abs().max()))
    assert fo[0] < 1e-4 and 3.5 < fo[1] / fo[0] < 4.5


@pytest.mark.parametrize(
    ("call", "msg"),
    [(lambda: Topology(sensing="charge"), "sensing = 'charge'"), (lambda: Topology(leak_S=0.0), "leak_S"),
     (lambda: Topology(unselected_rows="open"), "unselected_rows"),
     (lambda: approx_crossbar(*_array(4, 4), sweeps=0), "sweeps = 0"),
     (lambda: solve_crossbar(*_array(4, 4), v0_V=-1.0), "v0_V = -1.0"),
     (lambda: effective_matrix(_array(4, 4)[0], method="guess"), "method = 'guess'"),
     (lambda: solve_crossbar(*_array(4, 4), topology=Topology(unselected_rows="floating"), node_voltages=True),
      "node_voltages"),
     (lambda: solve_crossbar(*_array(4, 4), topology=Topology(sensing="voltage"), v0_V=0.2), "v0_V needs"),
     (lambda: solve_crossbar(*_array(4, 4), Wires(0.0, 1.0), Topology(sensing="voltage"), node_voltages=True),
      "r_row > 0"),
     (lambda: solve_crossbar(*_array(4, 4), Wires(0.0, 1.0), Topology(sensing="voltage")), "r_row > 0")],
)  # fmt: skip
def test_bad_topology_input_is_named(call, msg: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=msg):
        call()


def test_networks_run_with_approximate_and_voltage_sensed_ir_drop() -> None:
    from torch import nn

    import reram

    torch.manual_seed(0)
    base = reram.override(reram.preset("ideal"), {"array": {"rows": 64, "cols": 32, "r_wire_ohm": 0.5}})
    lin = nn.Linear(50, 20)
    x = torch.rand(8, 50)
    ref = lin(x).detach()
    outs = {}
    for mode in ("off", "approx", "exact"):
        a = reram.convert(lin, reram.override(base, {"array": {"ir_drop": mode}}))
        a.program()
        with torch.no_grad():
            outs[mode] = a(x)
    err = {k: float((o - ref).abs().max() / ref.abs().max()) for k, o in outs.items()}
    assert err["off"] < 1e-5 < err["exact"]
    assert float((outs["approx"] - outs["exact"]).abs().max() / ref.abs().max()) < 0.1 * err["exact"]
    volt = reram.override(base, {"array": {"ir_drop": "exact"}, "periphery": {"adc": {"sensing": "voltage"}}})
    a = reram.convert(lin, volt)
    a.program()
    with torch.no_grad():
        e_v = float((a(x) - ref).abs().max() / ref.abs().max())
    assert 1e-6 < e_v < 0.5
    with pytest.raises(reram.ConfigError, match="array.ir_drop"):
        reram.override(volt, {"array": {"ir_drop": "approx"}})


def test_a_small_irdrop_sweep_writes_its_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import reram
    from reram.experiments.irdrop_sweep import run_irdrop_sweep
    from reram.experiments.job import JobConfig

    job = JobConfig(dataset="mnist-subset", model="mlp", epochs=1, train_samples=300, test_samples=100,
                    calibration_samples=50)  # fmt: skip
    kw = {"sizes": (64,), "sensing": ("current",), "resistances_ohm": (0.0, 300.0), "finetune_samples": 0}
    s = run_irdrop_sweep(job, reram.preset("neurram"), tmp_path, **kw)  # type: ignore[arg-type]
    assert len(s["points"]) == 2
    for f in ("irdrop_sweep.json", "irdrop_sweep.csv", "irdrop_sweep.png", "irdrop_report.html"):
        assert (tmp_path / f).stat().st_size > 0, f


@pytest.mark.slow
def test_irdrop_sweep_writes_results_and_resumes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    import reram
    from reram.experiments.irdrop_sweep import run_irdrop_sweep
    from reram.experiments.job import JobConfig

    job = JobConfig(dataset="mnist-subset", model="mlp", epochs=2, train_samples=2000, test_samples=300,
                    calibration_samples=200)  # fmt: skip
    kw = {"sizes": (64,), "sensing": ("current",), "resistances_ohm": (0.0, 300.0), "finetune_samples": 500}
    s = run_irdrop_sweep(job, reram.preset("neurram"), tmp_path, **kw)  # type: ignore[arg-type]
    for f in ("irdrop_sweep.json", "irdrop_sweep.csv", "irdrop_sweep.png", "irdrop_report.html"):
        assert (tmp_path / f).stat().st_size > 0, f
    p0, p1 = [p for p in s["points"] if p["sensing"] == "current"]
    assert p0["r_wire_ohm"] == 0.0 and p1["tiles"] > 1
    assert p0["acc_plain_pct"] > 70 and p1["acc_plain_pct"] < p0["acc_plain_pct"] - 5  # 300 ohm segments cost accuracy
    assert p1["acc_in_loop_pct"] > p1["acc_plain_pct"]  # the IR drop in the training loop recovers some
    again = run_irdrop_sweep(job, reram.preset("neurram"), tmp_path, **kw)  # type: ignore[arg-type]
    assert again["points"] == json.loads((tmp_path / "irdrop_sweep.json").read_text())["points"]


def test_access_resistance_acts_without_wire_resistance() -> None:
    from torch import nn

    import reram

    torch.manual_seed(0)
    lin = nn.Linear(50, 20)
    over = {"array": {"rows": 64, "cols": 32, "ir_drop": "exact", "r_wire_ohm": 0.0, "r_access_ohm": 5e3}}
    a = reram.convert(lin, reram.override(reram.preset("ideal"), over))
    a.program()
    g = a.g_S[0, 0, :50]
    assert not torch.allclose(a.gdiff()[0, :50], g - a.g_S[1, 0, :50])  # G / (1 + G r_access) per cell


def test_a_layer_sees_separate_line_driver_and_sense_resistances() -> None:
    """array.r_col_ohm, r_source_ohm, r_sense_ohm reach the solver (``array.network.wires_of``):
    each changes a layer's exact-IR-drop output; a driver resistance needs row segments.
    """
    from torch import nn

    import reram

    torch.manual_seed(0)
    base = reram.override(reram.preset("ideal"), {"array": {"rows": 16, "cols": 8, "ir_drop": "exact",
                                                            "differential": "columns", "r_wire_ohm": 2.0}})  # fmt: skip
    lin, x = nn.Linear(16, 4, bias=False), torch.rand(3, 16)
    outs = {}
    for name, extra in [("uniform", {}), ("col", {"r_col_ohm": 20.0}), ("source", {"r_source_ohm": 50.0}),
                        ("sense", {"r_sense_ohm": 50.0})]:  # fmt: skip
        cfg = reram.override(base, {"array": extra})
        a = reram.convert(nn.Sequential(lin), cfg)
        a.program()
        with torch.no_grad():
            outs[name] = a(x)
    for name in ("col", "source", "sense"):
        assert not torch.allclose(outs[name], outs["uniform"], rtol=1e-6, atol=0), name
    with pytest.raises(reram.ConfigError, match="array.r_source_ohm"):
        reram.override(base, {"array": {"r_wire_ohm": 0.0, "r_source_ohm": 5.0}})


def test_wires_of_the_config() -> None:
    from reram.array.network import wires_of
    from reram.config import ArrayConfig

    w = wires_of(ArrayConfig(r_wire_ohm=2.0, r_col_ohm=3.0, r_source_ohm=4.0, r_sense_ohm=5.0, r_access_ohm=6.0))
    assert (w.r_row, w.r_col, w.r_source, w.r_sense, w.r_access) == (2.0, 3.0, 4.0, 5.0, 6.0)
    assert wires_of(ArrayConfig(r_wire_ohm=2.0)).r_col == 2.0  # the bit line falls back to r_wire_ohm


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.floats(0.1, 20.0), st.floats(0.1, 20.0), st.floats(0.0, 50.0),
       st.floats(0.0, 50.0), st.floats(0.0, 2e3), st.integers(0, 10**6),
       st.sampled_from(["current", "voltage"]))  # fmt: skip
def test_energy_forms_conserve_what_the_drivers_deliver(rows, cols, r_row, r_col, r_src, r_sense, r_acc, seed,  # type: ignore[no-untyped-def]
                                                        sensing) -> None:  # fmt: skip
    """Cell form = sum G V_cell^2 from the node voltages; cell + wire forms = sum of V I over the
    drivers = every resistor's V^2 / R summed (segments, driver, sense, access; with floating
    bit lines the sense input's leakage too).
    """
    from reram.array.energy import energy_forms

    g, v = _array(rows, cols, seed)
    w = Wires(r_row, r_col, r_src, r_sense, r_acc)
    m_cell, m_wire = energy_forms(g, w, sensing)
    topo = Topology(sensing=sensing)
    sol = solve_crossbar(g, v, w, topo, node_voltages=True)
    g_out = 1 / (r_col + r_sense) if sensing == "current" else 1 / (r_col + r_sense + 1 / topo.leak_S)
    u, c = sol.row_V, sol.col_V
    g_b = g / (1 + g * r_acc)
    d = u - c
    cells = (g * (d * g_b / g) ** 2).sum((1, 2))
    access = ((d * (1 - g_b / g)) ** 2 / r_acc).sum((1, 2)) if r_acc > 0 else torch.zeros(len(v), dtype=g.dtype)
    rows_w = (v - u[:, :, 0]) ** 2 / (r_row + r_src)
    rows_w = rows_w.sum(1) + ((u[:, :, 1:] - u[:, :, :-1]) ** 2).sum((1, 2)) / r_row
    cols_w = ((c[:, 1:] - c[:, :-1]) ** 2).sum((1, 2)) / r_col + (c[:, -1] ** 2).sum(1) * g_out
    # a lone floating line settles within ~leak / G (>= 1e-8) of its drive: its cell voltage is a
    # difference of node voltages that float64 resolves to ~1e-16 / 1e-8 relative
    rtol = 1e-8 if sensing == "current" else 1e-6
    assert torch.allclose(((v @ m_cell) * v).sum(1), cells, rtol=rtol, atol=0)
    assert torch.allclose(((v @ (m_cell + m_wire)) * v).sum(1), cells + access + rows_w + cols_w, rtol=rtol, atol=0)


def test_counted_read_energy_splits_between_cells_and_wires() -> None:
    """Exact IR drop: the counted cell energy falls with wire resistance (less voltage reaches
    the cells) and the wires' share rises; the cost report prices both.
    """
    from torch import nn

    import reram
    from reram.cost import price
    from reram.cost.workload import counted_workload

    torch.manual_seed(0)
    base = reram.override(reram.preset("ideal"), {"array": {"rows": 32, "cols": 16, "ir_drop": "exact"}})
    lin, x = nn.Sequential(nn.Linear(32, 8)), torch.rand(6, 32)
    cell, wire = [], []
    for r in (0.0, 5.0, 20.0):
        m = reram.convert(lin, reram.override(base, {"array": {"r_wire_ohm": r}}))
        with torch.no_grad():
            m(x)
        e = reram.events(m)["0"]
        cell.append(e.cell_energy_J)
        wire.append(e.wire_energy_J)
    assert wire[0] == 0 and 0 < wire[1] < wire[2]
    assert cell[0] > cell[1] > cell[2]
    report = price(counted_workload(m, (32,)))  # per inference: the 6 samples' energy / 6
    assert report.component_energy_J()["wires"] == pytest.approx(wire[2] / 6, rel=1e-6, abs=0)


def test_floating_bit_lines_node_voltages_match_the_port_solve() -> None:
    """Voltage sensing: every node voltage of the floating lines (block elimination) gives the
    same sensed voltages as the port solve, and near-ideal wires the lines' sum(V G) / sum(G)."""
    g, v = _array(12, 9, 3)
    w = Wires(2.0, 3.0, 10.0, 20.0, 0.0)
    nodes = solve_crossbar(g, v, w, Topology(sensing="voltage"), node_voltages=True)
    ports = solve_crossbar(g, v, w, Topology(sensing="voltage"))
    assert nodes.sense_V is not None and ports.sense_V is not None
    assert torch.allclose(nodes.sense_V, ports.sense_V, rtol=1e-9, atol=0)
    tiny = solve_crossbar(g, v, Wires(1e-6, 1e-6), Topology(sensing="voltage"), node_voltages=True)
    assert tiny.sense_V is not None
    assert torch.allclose(tiny.sense_V, (v @ g) / g.sum(0), rtol=1e-5, atol=0)


@pytest.mark.parametrize("differential", ["rows", "columns"])
@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_voltage_sensed_read_energy_counts_each_floating_line(differential: str, kind: str) -> None:
    """Voltage sensing: a floating line dissipates sum G (V - V_bl)^2 at its own V_bl (on
    differential columns each output's G+ and G- lines apart), the ideal-wire formula agrees with
    the solved forms as the wires vanish, and with wires the wires' share rises with them."""
    from torch import nn

    import reram
    from reram.periphery.dac import encode_inputs

    torch.manual_seed(0)
    base = reram.override(reram.preset("ideal"), {"array": {"rows": 32, "cols": 16, "differential": differential},
                                                  "periphery": {"adc": {"sensing": "voltage"}}})  # fmt: skip
    if kind == "linear":
        net, x = nn.Sequential(nn.Linear(30, 8)), torch.rand(6, 30)
    else:
        net, x = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)), torch.rand(2, 3, 5, 5)
    cells, wires = [], []
    wired = ({"ir_drop": "exact", "r_wire_ohm": r, "r_col_ohm": r} for r in (1e-4, 5.0, 20.0))
    for arr in ({"ir_drop": "off"}, *wired):
        m = reram.convert(net, reram.override(base, {"array": arr}))
        with torch.no_grad():
            m(x)
        e = reram.events(m)["0"]
        cells.append(e.cell_energy_J)
        wires.append(e.wire_energy_J)
    assert cells[1] == pytest.approx(cells[0], rel=1e-5, abs=0) and wires[0] == 0
    assert 0 < wires[1] < 1e-6 * cells[1] and wires[1] < wires[2] < wires[3] and cells[3] < cells[2]
    if kind == "linear":  # the floating lines one by one, from the drives the DAC applied
        layer = reram.convert(net, base)[0]
        with torch.no_grad():
            layer(x)
        cfg, b = layer.config, layer.branch_S().double()
        x_range = x.abs().max()  # the DAC's full scale, auto-ranged (no calibration)
        drive = encode_inputs(x, x_range, cfg.periphery.dac, cfg.array.v_read_V).planes.flatten(0, 1).double()
        want, per_tile = 0.0, b.shape[2]
        for t in range(b.shape[1]):  # each array's lines
            d = drive[:, t * per_tile : (t + 1) * per_tile]
            d = torch.cat([d, d.new_zeros(d.shape[0], per_tile - d.shape[1])], 1)
            if differential == "columns":  # two lines per output
                lines = [(d, b[0, t]), (d, b[1, t])]
            else:  # one line per output: +V on the G+ rows, -V on the G- rows
                lines = [(torch.cat([d, -d], 1), torch.cat([b[0, t], b[1, t]]))]
            for v, g in lines:
                v_bl = (v @ g) / g.sum(0)
                want += float(((v[:, :, None] - v_bl[:, None]) ** 2 * g).sum())
        assert cells[0] == pytest.approx(want * cfg.array.t_pulse_s, rel=1e-5, abs=0)


@pytest.mark.parametrize("padding", [1, "same", "valid"])
def test_a_convolutions_wired_read_energy_counts_cells_and_wires(padding: object) -> None:
    """Exact IR drop in a convolution: every input window's v^T M v with the arrays' solved forms
    (one Gram matrix of the windows per tile, checked against the windows one by one); the
    wires' share rises with their resistance."""
    from torch import nn
    from torch.nn import functional as F

    import reram

    torch.manual_seed(0)
    base = reram.override(reram.preset("ideal"), {"array": {"rows": 32, "cols": 16, "ir_drop": "exact"}})
    conv, x = nn.Sequential(nn.Conv2d(5, 4, 3, padding=padding)), torch.rand(3, 5, 6, 6)
    wires = []
    for r in (0.0, 5.0, 20.0):
        m = reram.convert(conv, reram.override(base, {"array": {"r_wire_ohm": r}}))
        with torch.no_grad():
            m(x)
        wires.append(reram.events(m)["0"].wire_energy_J)
    assert wires[0] == 0 and 0 < wires[1] < wires[2]
    layer = m[0]
    op = layer._op(x)[0]
    assert layer.grid.n_row > 1  # 45 window rows over arrays of 16 weight rows
    cells, wired = op.read_energy(x)
    forms = layer.energy_forms()
    xp = layer._group(x)
    if padding == "same" or padding == 1:
        xp = F.pad(xp, (1, 1, 1, 1))
    u = F.unfold(xp, 3)  # (N, tiles * rows, windows)
    t, r = layer.grid.n_row, layer.grid.rows_pad
    w = u.view(u.shape[0], t, r, -1)  # every window of every tile
    want = torch.einsum("ntrp,ktgrs,ntsp->ktg", w, forms, w)
    assert torch.allclose(cells, want[0], rtol=1e-5, atol=0) and torch.allclose(wired, want[1], rtol=1e-5, atol=0)


def test_a_convolutions_wired_energy_beyond_the_sample_is_estimated_from_evenly_spaced_images() -> None:
    from torch import nn
    from torch.nn import functional as F

    import reram
    from reram.core import ENERGY_SAMPLE

    torch.manual_seed(0)
    cfg = reram.override(
        reram.preset("ideal"), {"array": {"rows": 32, "cols": 16, "ir_drop": "exact", "r_wire_ohm": 5.0}}
    )
    layer = reram.convert(nn.Sequential(nn.Conv2d(5, 4, 3, padding=1)), cfg)[0]
    layer.program()
    x = torch.rand(64, 5, 12, 12)  # 9,216 windows: every second image
    assert 64 * 144 > ENERGY_SAMPLE
    op = layer._op(x)[0]
    cells, wired = op.read_energy(x)
    u = F.unfold(F.pad(layer._group(x), (1, 1, 1, 1)), 3)
    w = u.view(64, layer.grid.n_row, layer.grid.rows_pad, -1)
    want = torch.einsum("ntrp,ktgrs,ntsp->ktg", w, layer.energy_forms(), w)
    assert abs(float(cells.sum() / want[0].sum()) - 1) < 0.03 and abs(float(wired.sum() / want[1].sum()) - 1) < 0.03


def test_first_order_ir_drop_beyond_its_range_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    """``ir_drop = "approx"`` on arrays whose first-order drop passes its range logs once per layer
    (a NeuRRAM-size array at mid-window with 1-ohm segments: the first order takes > 100 % of the
    drive); small arrays with small wires stay quiet. Inference and on-chip layers alike."""
    import logging

    from torch import nn

    import reram
    from reram.array import lines
    from reram.nn.onchip import OnChipLinear

    g = torch.full((256, 256), 20e-6, dtype=torch.float64)
    assert lines.first_order_drop(g, 1.0, 1.0, 0.0, 0.0) > 1.0
    assert lines.first_order_drop(g[:16, :16], 0.1, 0.1, 0.0, 0.0) < lines.FIRST_ORDER_RANGE
    torch.manual_seed(0)
    x = torch.rand(4, 200)
    for rows, r, loud in ((256, 1.0, True), (16, 0.1, False)):
        changes = {"array": {"ir_drop": "approx", "rows": rows, "cols": rows, "r_wire_ohm": r},
                   "periphery": {"adc": {"sensing": "current"}}}  # fmt: skip
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="reram.nn.layers"):
            m = reram.convert(nn.Sequential(nn.Linear(200, 120)), reram.override(reram.preset("neurram"), changes))
            with torch.no_grad():
                m(x), m(x)
            chip = OnChipLinear(nn.Linear(200, 120), reram.override(reram.preset("hfo2"), changes))
            with torch.no_grad():
                chip(x), chip(x)
        said = [rec for rec in caplog.records if "out of its range" in rec.getMessage()]
        assert len(said) == (2 if loud else 0)  # once per layer: the inference layer and the on-chip one
