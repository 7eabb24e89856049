import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reram.array import StackOp, row_grouping, transposed_stack, weights_to_conductances
from reram.array.noise import add_line_noise_
from reram.config import ArrayConfig, ChipConfig, DeviceConfig, override, preset
from reram.mapping import MappingError, place, tile_matrix

DEV = DeviceConfig()


def test_stack_product_and_its_transpose_are_w_x_and_w_transpose_y():
    g = torch.Generator().manual_seed(0)
    gd = torch.randn(3, 40, 30, generator=g, dtype=torch.float64)  # 3 row tiles of 40 rows, 30 columns
    x = torch.randn(7, 110, generator=g, dtype=torch.float64)  # 110 inputs: the last tile is short
    op = StackOp(gd, row_grouping(3, 40))
    w = gd.reshape(120, 30)[:110]
    assert torch.allclose(op.currents(x).sum(1), x @ w)
    y = torch.randn(7, 30, generator=g, dtype=torch.float64)
    opt = StackOp(transposed_stack(gd, 12), row_grouping(3, 12))  # 30 columns in arrays of 12
    assert torch.allclose(opt.currents(y).sum(1)[:, :110], y @ w.T)


def test_read_noise_has_the_exact_column_variance():
    torch.manual_seed(0)
    gd = torch.full((1, 64, 4), 19e-6)
    v = torch.rand(1, 64) * 0.2
    sigma = 0.4e-6
    vv = v.expand(20000, 64).contiguous()
    op = StackOp(gd, row_grouping(1, 64))
    base = preset("ideal")
    cfg = override(base, {"device": {"read_noise_model": "constant", "read_noise_rel": sigma / base.device.g_max_S}})
    i = add_line_noise_(op.currents(vv), op, vv.abs(), vv * vv, cfg, torch.Generator().manual_seed(1))
    expected = float((2 * sigma**2 * (v**2).sum()).sqrt())
    assert float(i.std(0).mean()) == pytest.approx(expected, rel=0.03)
    assert float(i.mean(0).mean()) == pytest.approx(float((v @ gd[0]).mean()), rel=1e-3)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 600), st.integers(1, 600), st.sampled_from([1, 9]), st.sampled_from(["rows", "columns"]))
def test_tiles_cover_the_matrix_once(rows, cols, kernel, diff):
    arr = ArrayConfig(rows=64, cols=48, differential=diff)
    grid = tile_matrix(rows * kernel, cols, arr, kernel)
    covered = sum(r * c for _, _, r, c in grid.tiles())
    assert covered == rows * kernel * cols
    assert all(r <= arr.weight_rows and c <= arr.weight_cols and r % kernel == 0 for _, _, r, c in grid.tiles())
    w = torch.randn(rows * kernel, cols)
    assert torch.equal(grid.unpack(grid.pack(w)), w)


def test_differential_pair_encodes_sign_and_scale():
    w = torch.tensor([[[0.5, -1.0], [0.0, 0.25]]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    tc = weights_to_conductances(w, mask, ArrayConfig(scale="tile"), DEV, col_tile=2)
    diff = tc.g_pos_S - tc.g_neg_S
    assert torch.allclose(diff / tc.s_per_weight[:, None, :], w, atol=1e-7)
    assert float(tc.g_pos_S.min()) >= DEV.g_min_S * (1 - 1e-6) and float(tc.g_neg_S.max()) <= DEV.g_max_S * (1 + 1e-6)


def test_percentile_clip_and_per_column_scale():
    w = torch.linspace(-1, 1, 200).view(1, 100, 2) * torch.tensor([1.0, 3.0])
    mask = torch.ones(1, 100, dtype=torch.bool)
    tc = weights_to_conductances(w, mask, ArrayConfig(scale="column", clip_percentile=90), DEV, col_tile=2)
    assert tc.s_per_weight.shape == (1, 2) and not torch.allclose(tc.s_per_weight[0, 0], tc.s_per_weight[0, 1])
    assert float(tc.s_per_weight[0, 0]) == pytest.approx(3 * float(tc.s_per_weight[0, 1]), rel=0.05)
    assert (
        float(tc.g_pos_S.max()) == pytest.approx(DEV.g_max_S, rel=1e-6, abs=0)
        and float((tc.g_pos_S == DEV.g_max_S).float().mean()) > 0.03
    )


def test_placement_spills_onto_chips_or_fails_clearly():
    arr = ArrayConfig(rows=256, cols=256)
    grids = {"fc": tile_matrix(1000, 700, arr)}  # 8 row tiles x 3 column tiles
    p = place(grids, ChipConfig(cores=10, max_chips=3), 256 * 256)
    assert p.cores_used == 24 and p.n_chips == 3
    with pytest.raises(MappingError, match="max_chips"):
        place(grids, ChipConfig(cores=10, max_chips=2), 256 * 256)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 5), st.floats(0.5, 1.0), st.integers(0, 2**31))
def test_upper_quantile_equals_torch_nanquantile(n, groups, q, seed):
    from reram.array.conductance import upper_quantile

    g = torch.Generator().manual_seed(seed)
    values = torch.rand(groups, n, generator=g, dtype=torch.float64)
    valid = torch.rand(groups, n, generator=g) < 0.8
    valid[:, 0] = True
    want = torch.nanquantile(torch.where(valid, values, torch.nan), q, dim=-1)
    assert torch.allclose(upper_quantile(values, valid, q), want, rtol=0, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 40), st.integers(1, 70), st.sampled_from(["tile", "column"]),
       st.sampled_from([0, 16]), st.integers(0, 2**31))  # fmt: skip
def test_the_mapping_block_by_block_equals_the_whole_layer_at_once(t, r, c, scale, levels, seed):
    import reram.array.conductance as conductance
    from reram.device import quantize_levels

    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(t, r, c, generator=gen)
    mask = torch.rand(t, r, generator=gen) < 0.8
    arr = ArrayConfig(scale=scale, clip_percentile=97.0)
    dev = DeviceConfig(levels=levels)
    tc = weights_to_conductances(w, mask, arr, dev, 8)
    whole = quantize_levels(torch.stack([tc.g_pos_S, tc.g_neg_S]), dev) * mask[None, :, :, None]
    saved = conductance.BLOCK_WEIGHTS
    try:
        conductance.BLOCK_WEIGHTS = 1  # one array's columns (8) per block
        blocks, target = conductance.target_conductances(w, mask, arr, dev, 8)
    finally:
        conductance.BLOCK_WEIGHTS = saved
    assert torch.equal(target, whole) and torch.equal(blocks.s_per_weight, tc.s_per_weight)
    assert torch.equal(blocks.g_pos_S, target[0]) and torch.equal(blocks.g_neg_S, target[1])
