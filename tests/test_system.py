"""Multi-chip systems: partitions, what crosses between chips, and per-token cost of a language model."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import reram
from reram.config import load_config, override
from reram.cost import cost_of_model
from reram.cost.model import work_transfers
from reram.cost.system import attention_shapes, system_cost
from reram.mapping import place, tile_matrix
from reram.mapping.traffic import hops, network_transfers
from reram.zoo import CharGPT, build


def _system(cores: int, partition: str, **chip: object) -> reram.Config:
    return override(load_config("neurram"), {"chip": {"cores": cores, "max_chips": 10_000, "partition": partition,
                                                      **chip}})  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(shapes=st.lists(st.tuples(st.integers(1, 700), st.integers(1, 700)), min_size=1, max_size=4),
       cores=st.integers(1, 12), partition=st.sampled_from(["pipeline", "tensor"]))  # fmt: skip
def test_what_leaves_a_chip_arrives_at_another_and_every_tile_has_a_core(shapes, cores, partition) -> None:  # type: ignore[no-untyped-def]
    cfg = _system(cores, partition)
    grids = {f"l{k}": tile_matrix(i, o, cfg.array) for k, (i, o) in enumerate(shapes)}
    placement = place(grids, cfg.chip, cfg.array.rows * cfg.array.cols)
    assert len({(s.chip, s.core) for s in placement.sites}) == len(placement.sites)  # one tile per core
    assert all(s.core < cores for s in placement.sites)
    chain = [(n, g, placement.layer_sites(n)) for n, g in grids.items()]
    found = network_transfers(chain, 8, 16)
    out_bits = {c: 0.0 for c in range(placement.n_chips)}
    in_bits = dict(out_bits)
    for name, grid in grids.items():
        held = {s.chip for s in placement.layer_sites(name)}
        for t in found[name]:
            assert t.src != t.dst and t.bits > 0 and (t.dst in held or t.src in held)
            out_bits[t.src] += t.bits
            in_bits[t.dst] += t.bits
        inputs = [t for t in found[name] if t.kind == "inputs"]
        assert all(t.bits <= grid.in_features * 8 for t in inputs)  # a chip gets each feature once at most
    assert sum(out_bits.values()) == pytest.approx(sum(in_bits.values()))
    if placement.n_chips == 1:
        assert not any(found.values())


def test_one_chip_has_no_link_cost_and_many_chips_do() -> None:
    model = nn.Sequential(nn.Linear(600, 500), nn.ReLU(), nn.Linear(500, 300))
    one, rep1 = cost_of_model(model, _system(48, "pipeline"), (600,))
    assert one.placement.n_chips == 1 and rep1.component_energy_J()["links"] == 0 and not work_transfers(one)
    many, rep = cost_of_model(model, _system(2, "pipeline"), (600,))
    assert many.placement.n_chips > 1 and rep.component_energy_J()["links"] > 0
    cheap = cost_of_model(model, _system(2, "pipeline", link_pJ_per_bit=0.1), (600,))[1]
    assert cheap.component_energy_J()["links"] < rep.component_energy_J()["links"]
    slow = cost_of_model(model, _system(2, "pipeline", link_Gbps=0.01), (600,))[1]
    assert slow.total_latency_s > rep.total_latency_s  # the links' bandwidth is on the critical path


def test_tensor_partition_spreads_every_layer_and_pipeline_keeps_blocks_together() -> None:
    cfg = _system(4, "tensor")
    grids = {"a": tile_matrix(300, 2000, cfg.array), "b": tile_matrix(2000, 300, cfg.array)}
    tensor = place(grids, cfg.chip, 1)
    chips = tensor.n_chips
    assert chips > 1 and len({s.chip for s in tensor.layer_sites("a")}) == grids["a"].n_col  # a block per chip
    for s in tensor.layer_sites("a"):  # a column block's row tiles on one chip: no partial sums
        assert {t.chip for t in tensor.layer_sites("a") if t.col_tile == s.col_tile} == {s.chip}
    pipe = place(grids, _system(4, "pipeline").chip, 1)
    assert pipe.n_chips == chips and min(s.chip for s in pipe.layer_sites("b")) >= max(
        s.chip for s in pipe.layer_sites("a")) - 1  # layer after layer  # fmt: skip


def test_hops_on_a_mesh_and_a_ring() -> None:
    assert hops(0, 8, 9) == 4 and hops(2, 6, 9) == 4 and hops(1, 4, 9) == 1 and hops(0, 0, 9) == 0  # 3 x 3 mesh
    assert all(hops(k, k + 1, 9) == 1 for k in range(8))  # numbered in a snake: a pipeline's stages are neighbours
    assert hops(0, 8, 9, "ring") == 1 and hops(1, 5, 9, "ring") == 4


def test_a_language_model_on_a_system_costs_per_token_with_its_kv_cache() -> None:
    torch.manual_seed(0)
    model = CharGPT(vocab=64, dim=128, depth=2, heads=4, context=64)
    cfg = _system(8, "pipeline")
    shapes = attention_shapes(model)
    assert [(a.heads, a.kv_heads, a.head_dim) for a in shapes] == [(4, 4, 32)] * 2
    short, long = system_cost(model, cfg, 16, 8), system_cost(model, cfg, 64, 8)
    p = long["per_token"]
    assert p["kv_cache_bits"] == 2 * 2 * 128 * 64 * cfg.cost.act_bits  # layers x (K, V) x width x context
    assert long["energy_per_token_J"]["kv_cache"] > short["energy_per_token_J"]["kv_cache"]
    assert p["decode_latency_s"] > short["per_token"]["decode_latency_s"]  # attention over more context
    assert p["pipelined_tokens_per_s"] >= p["decode_tokens_per_s"]
    assert p["chips"] > 1 and 0 < p["links_share"] < 1 and 0 < p["mean_chip_utilisation"] <= 1
    rows = long["chips"]
    assert sum(r["cores_used"] for r in rows) == long["work"].placement.cores_used
    assert sum(r["weights"] for r in rows) == sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
    assert sum(r["bits_in"] for r in rows) == pytest.approx(sum(r["bits_out"] for r in rows))
    one = system_cost(model, _system(10_000, "pipeline"), 64)
    assert one["per_token"]["chips"] == 1 and "links" not in one["energy_per_token_J"]


def test_the_large_shapes_are_priced_without_weights() -> None:
    for name, weights in (("gpt2_small", 124e6), ("llama_1b", 1.2e9)):
        model, shape = build(name, None, "meta")
        assert abs(sum(p.numel() for p in model.parameters()) / weights - 1) < 0.05
    work, rep = cost_of_model(model, _system(48, "pipeline"), shape)
    assert work.placement.n_chips > 100 and rep.total_energy_J > 0


def test_bad_context_and_partition_are_named() -> None:
    with pytest.raises(ValueError, match="context = 0"):
        system_cost(CharGPT(vocab=8, dim=16, depth=1, heads=2, context=8), "neurram", 0)
    with pytest.raises(ValueError, match="token ids"):
        system_cost(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), "neurram", 16)
    with pytest.raises(reram.ConfigError, match="chip.partition"):
        _system(4, "diagonal")


def _kv(store: str, **over: object) -> reram.Config:
    return override(_system(8, "pipeline"), {"cost": {"kv_store": store}, **over})  # type: ignore[arg-type]


def test_kv_cache_in_cells_is_written_once_per_token_and_read_on_its_arrays() -> None:
    """The cache in cells: the write's energy does not grow with the context (one row per head and
    token), the reads' does (every cached token converted); SRAM and DRAM forced as asked; the
    arrays' cores from the shapes; each cell's endurance budget over its rewrite per context."""
    torch.manual_seed(0)
    model = CharGPT(vocab=64, dim=128, depth=2, heads=4, context=64)
    short, long = system_cost(model, _kv("cells"), 100, 8), system_cost(model, _kv("cells"), 600, 8)
    p = long["per_token"]
    assert p["kv_cache_in_cells"] == 1 and p["kv_cache_in_sram"] == 0
    assert long["energy_per_token_J"]["kv_cache"] == pytest.approx(short["energy_per_token_J"]["kv_cache"], rel=1e-12)
    assert long["energy_per_token_J"]["attention"] > 4 * short["energy_per_token_J"]["attention"]
    assert p["kv_conversions"] > 5 * short["per_token"]["kv_conversions"]
    # 2 layers x (K, V) x 4 heads x ceil(600 / 256) arrays of rows x ceil(32 x 2 / 256) of columns
    assert p["kv_cores"] == 2 * 2 * 4 * 3 * 1 and p["kv_cells"] == 2 * 2 * 4 * 600 * 64
    assert p["kv_pulses_per_cell"] >= 1 and p["kv_write_iterations"] >= 1 and p["kv_write_s"] > 0
    assert p["kv_lifetime_tokens"] == float("inf")  # neurram: no endurance budget set
    worn = system_cost(model, _kv("cells", device={"update": {"endurance_cycles": 1e6}}), 600)["per_token"]
    assert worn["kv_lifetime_tokens"] == pytest.approx(1e6 * 600 / worn["kv_pulses_per_cell"], rel=1e-12)
    tight = system_cost(model, _kv("cells", device={"wv_tolerance_S": 0.3e-6}), 600)["per_token"]
    assert tight["kv_pulses_per_cell"] > worn["kv_pulses_per_cell"]  # a tighter verify: more pulses
    sram, dram = (system_cost(model, _kv(s), 600, 8)["energy_per_token_J"]["kv_cache"] for s in ("sram", "dram"))
    assert dram > sram > 0
    auto = system_cost(model, _kv("auto"), 600, 8)
    assert auto["energy_per_token_J"]["kv_cache"] in (sram, dram)
    with pytest.raises(reram.ConfigError, match="cost.kv_store"):
        _kv("flash")
