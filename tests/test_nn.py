import pytest
import torch
from torch import nn

import reram
from reram import core
from reram.zoo import fashion_cnn, lenet5

torch.manual_seed(0)


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def test_ideal_linear_equals_float(device):
    m = nn.Linear(100, 30).to(device)
    x = torch.randn(16, 100, device=device)
    with torch.no_grad():
        assert rel(reram.convert(m, "ideal")(x), m(x)) < 1e-4


@pytest.mark.parametrize("cls, shape", [(nn.Conv2d, (4, 5, 12, 12)), (nn.Conv1d, (4, 5, 20))])
def test_ideal_conv_equals_float(cls, shape, device):
    m = cls(5, 7, 3, stride=2, padding=1).to(device)
    x = torch.randn(*shape, device=device)
    with torch.no_grad():
        assert rel(reram.convert(m, "ideal")(x), m(x)) < 1e-4


def test_ideal_whole_cnn_equals_float(device):
    m = lenet5().to(device).eval()
    x = torch.rand(8, 1, 28, 28, device=device)
    with torch.no_grad():
        assert rel(reram.convert(m, "ideal")(x), m(x)) < 1e-4


def test_tiled_1000x700_equals_untiled_under_ideal():
    m = nn.Linear(1000, 700, bias=False)
    a = reram.convert(m, "ideal")
    assert a.grid.n_row > 1 and a.grid.n_col > 1
    x = torch.randn(10, 1000)
    with torch.no_grad():
        assert rel(a(x), m(x)) < 1e-4


def test_bit_serial_without_clipping_equals_multilevel():
    m = nn.Linear(300, 20)
    base = {"base": "ideal", "periphery": {"dac": {"bits": 6}}}
    x = torch.randn(8, 300)
    with torch.no_grad():
        y1 = reram.convert(m, base)(x)
        y2 = reram.convert(m, {**base, "periphery": {"dac": {"bits": 6, "bit_serial": True}}})(x)
    assert rel(y2, y1) < 1e-4


def test_voltage_mode_without_noise_equals_current_mode():
    m = nn.Linear(200, 10)
    x = torch.randn(8, 200)
    with torch.no_grad():
        yc = reram.convert(m, "ideal")(x)
        yv = reram.convert(m, {"base": "ideal", "periphery": {"adc": {"sensing": "voltage"}}})(x)
    assert rel(yv, yc) < 1e-4


def test_weight_is_a_real_parameter_and_gradients_flow():
    m = reram.convert(nn.Sequential(nn.Linear(20, 10), nn.ReLU(), nn.Linear(10, 3)), "neurram")
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    w0 = m[0].weight.detach().clone()
    loss = m(torch.randn(5, 20)).sum()
    loss.backward()
    assert m[0].weight.grad is not None and m[0].weight.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(m[0].weight, w0)


def test_programming_is_seeded_and_ageing_changes_outputs():
    m = fashion_cnn().eval()
    x = torch.rand(16, 1, 28, 28)
    a, b = reram.convert(m, "neurram"), reram.convert(m, "neurram")
    a.program()
    b.program()
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
        y1 = a(x)
        a.age(86400)
        assert not torch.allclose(a(x), y1)
    b.program(seed=7)
    assert not torch.equal(a[0].g_S, b[0].g_S)


def test_state_dict_round_trips():
    m = fashion_cnn().eval()
    a = reram.convert(m, "neurram")
    reram.calibrate(a, [torch.rand(32, 1, 28, 28)])
    a.age(3600)
    b = reram.convert(m, "neurram")
    b.load_state_dict(a.state_dict())
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(a[0].g_S, b[0].g_S) and bool(b[0].calibrated)
    cfg = {"base": "neurram", "device": {"read_noise_rel": 0.0, "read_noise_model": "constant"}}
    a2, b2 = reram.convert(m, cfg), reram.convert(m, cfg)
    a2.program()
    b2.load_state_dict(a2.state_dict())
    with torch.no_grad():
        assert torch.equal(a2(x), b2(x))


def test_revert_gives_back_float_modules_with_same_parameters():
    m = lenet5()
    a = reram.convert(m, "neurram")
    r = reram.revert(a)
    assert not reram.analog_layers(r)
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(r(x), m(x))


def test_filter_and_per_layer_overrides():
    m = fashion_cnn()
    a = reram.convert(
        m,
        "neurram",
        filter_fn=lambda mod, name: isinstance(mod, nn.Linear),
        per_layer={"9": {"periphery": {"adc": {"bits": 8}}}},
    )
    names = [n for n, _ in reram.analog_layers(a)]
    assert names == ["7", "9"]
    assert a[9].config.periphery.adc.bits == 8 and a[7].config.periphery.adc.bits == 6


def test_event_counts_follow_shapes():
    m = nn.Linear(300, 100)
    a = reram.convert(m, {"base": "ideal", "periphery": {"dac": {"bits": 4, "bit_serial": True}}})
    with torch.no_grad():
        a(torch.rand(10, 300))  # unsigned: one phase of 4 planes
    ev = reram.events(a)[""] if "" in reram.events(a) else next(iter(reram.events(a).values()))
    planes, vectors = 4, 10
    assert ev.cell_reads == 300 * 2 * 100 * planes * vectors  # differential rows: 2 cells per weight
    assert ev.adc_conversions == a.grid.n_row * 100 * planes * vectors
    assert ev.mvms == a.grid.n_row * a.grid.n_col * planes * vectors
    assert ev.psum_adds == (a.grid.n_row - 1) * 100 * vectors
    per_core = reram.events_per_core(a)
    assert sum(c.cell_reads for c in per_core.values()) == ev.cell_reads


def test_calibration_sets_ranges_and_clips_rare_outliers():
    m = nn.Linear(64, 8)
    a = reram.convert(m, "neurram")
    x = torch.rand(256, 64)
    reram.calibrate(a, [x])
    assert bool(a.calibrated) and float(a.x_range) <= float(x.abs().max())
    with pytest.raises(ValueError, match="no batches"):
        reram.calibrate(a, [])


def test_age_before_program_is_a_clear_error():
    a = reram.convert(nn.Linear(4, 4), "neurram")
    with pytest.raises(RuntimeError, match="program"):
        a.age(10)


def test_wrong_input_shapes_get_clear_errors():
    with pytest.raises(ValueError, match="takes 10"):
        reram.convert(nn.Linear(10, 2), "ideal")(torch.rand(3, 11))
    with pytest.raises(ValueError, match="3 channels"):
        reram.convert(nn.Conv2d(3, 4, 3), "ideal")(torch.rand(1, 2, 8, 8))


def test_cached_kernel_follows_the_conductances():
    m = reram.convert(
        nn.Conv2d(3, 4, 3), {"base": "neurram", "device": {"read_noise_rel": 0.0, "read_noise_model": "constant"}}
    )
    x = torch.rand(2, 3, 8, 8)
    reram.calibrate(m, [x])
    with torch.no_grad():
        y1 = m(x)
        m.age(86400)
        assert not torch.equal(m(x), y1)
        m.program()
        assert torch.equal(m(x), y1)
        sd = {k: v.clone() for k, v in m.state_dict().items()}
        m.age(3600)
        m.load_state_dict(sd)
        assert torch.equal(m(x), y1)


def test_tiles_whose_inputs_are_always_zero_stay_finite() -> None:
    # e.g. an MNIST border: a whole row tile sees only zeros during calibration
    import reram
    from reram.nn import analog_layers, calibrate

    torch.manual_seed(0)
    lin = torch.nn.Linear(128, 16)
    x = torch.rand(64, 128)
    x[:, :64] = 0.0
    chip = reram.convert(torch.nn.Sequential(lin), reram.override(reram.preset("neurram"), {"array": {"rows": 64}}))
    for _, m in analog_layers(chip):
        m.program(0)
    calibrate(chip, x.split(32))
    with torch.no_grad():
        y, ref = chip(x), lin(x)
    assert bool(torch.isfinite(y).all())
    assert float((y - ref).abs().max() / ref.abs().max()) < 0.15


def test_a_whole_converted_model_saves_and_loads(tmp_path):
    import copy

    from reram.zoo import fashion_cnn

    chip = reram.convert(
        fashion_cnn(), {"base": "neurram", "device": {"read_noise_rel": 0.0, "read_noise_model": "constant"}}
    )
    chip.program(seed=1)
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        y = chip(x)
    torch.save(chip, tmp_path / "chip.pt")
    back = torch.load(tmp_path / "chip.pt", weights_only=False)
    with torch.no_grad():
        assert torch.equal(back(x), y)
    back.age(86400)  # its chip methods act on the loaded model
    assert float(back[0].age_eq_s) > 0 and float(chip[0].age_eq_s) == 0
    twin = copy.deepcopy(chip)
    twin.program(seed=2)
    assert not torch.equal(twin[0].g_S, chip[0].g_S)


@pytest.mark.parametrize(("layer", "state_dtype", "differential"), [
    (nn.Linear(40, 70), "float32", "rows"), (nn.Linear(40, 70), "float16", "rows"),
    (nn.Linear(40, 70), "float16", "columns"),  # two floating bit lines per output
    (nn.Conv2d(3, 8, 3, padding=1), "float32", "rows")])  # fmt: skip
def test_a_batch_read_in_chunks_is_read_as_one(layer: nn.Module, state_dtype: str, differential: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Rows in chunks, and (16-bit storage) columns in blocks of one array each: the same
    outputs and the same events, array by array."""
    import reram.nn.reads as reads

    torch.manual_seed(0)
    x = torch.rand(12, 40) if isinstance(layer, nn.Linear) else torch.rand(12, 3, 6, 6)
    cfg = {"base": "neurram", "device": {"read_noise_rel": 0.0, "read_noise_model": "constant"},
           "periphery": {"adc": {"sample_cap_F": 0.0}},
           "array": {"rows": 64, "cols": 16, "differential": differential}}  # fmt: skip
    whole, chunked = (reram.convert(layer, cfg, state_dtype=state_dtype) for _ in range(2))
    for m in (whole, chunked):
        m.program()
        reram.calibrate(m, [x])
        reram.reset_events(m)
    with torch.no_grad():
        a = whole(x)
        monkeypatch.setattr(reads, "CHUNK_BYTES", 1)  # one input at a time
        monkeypatch.setattr(reads, "DERIVED_BYTES", 1)  # one array's columns at a time
        if state_dtype == "float16":
            state = core.PeripheryState(chunked.x_range, chunked.adc_fs, chunked.gain, chunked.gsum_S)
            assert len(reads.column_blocks(chunked, state)) == chunked.grid.n_col > 1
        b = chunked(x)
    assert torch.equal(a, b)
    for ea, eb in zip(whole.events.per_tile(), chunked.events.per_tile(), strict=True):
        assert ea.vectors == eb.vectors and ea.adc_conversions == eb.adc_conversions
        assert ea.read_pulses == eb.read_pulses
        assert eb.cell_energy_J == pytest.approx(ea.cell_energy_J, rel=1e-6, abs=0) and ea.cell_energy_J > 0


def test_an_uncalibrated_layer_reads_its_batch_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    import reram.nn.reads as reads

    torch.manual_seed(0)
    layer, x = nn.Linear(40, 30), torch.rand(12, 40)
    cfg = {"base": "neurram", "device": {"read_noise_rel": 0.0, "read_noise_model": "constant"},
           "periphery": {"adc": {"sample_cap_F": 0.0}}}  # fmt: skip
    whole, chunked = (reram.convert(layer, cfg) for _ in range(2))
    for m in (whole, chunked):
        m.program()
    with torch.no_grad():
        a = whole(x)
        monkeypatch.setattr(reads, "CHUNK_BYTES", 1)
        b = chunked(x)
    assert torch.equal(a, b)  # the batch's own max |x| is the DAC's range: it sees the whole batch
