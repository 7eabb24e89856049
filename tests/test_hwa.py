import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import reram
from reram.train import FakeQuant, HWAConfig, fit, prepare_hwa, set_noise_epoch, ste_round, strip_hwa
from reram.zoo import build


def _data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_noise_level_zero_equals_plain_training():
    x, y = _data()
    torch.manual_seed(0)
    a, _ = build("mlp")
    b, _ = build("mlp")
    b.load_state_dict(a.state_dict())
    prepare_hwa(b, HWAConfig(noise_level=0.0, quantize_weights=False, input_bits=0, bias_noise=False))
    fit(a, x, y, epochs=1, batch_size=64, seed=3)
    fit(b, x, y, epochs=1, batch_size=64, seed=3)
    strip_hwa(b)
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sa) == set(sb)
    for k in sa:
        assert torch.allclose(sa[k], sb[k], atol=1e-6), k


def test_ste_round_and_weight_quantisation_pass_gradients_straight_through():
    w = torch.linspace(-1, 1, 101, requires_grad=True)
    ste_round(w * 3).sum().backward()
    assert torch.equal(w.grad, torch.full_like(w, 3.0))
    m = nn.Linear(20, 5)
    prepare_hwa(m, HWAConfig(noise_level=0.0, input_bits=0, bias_noise=False), "neurram")
    wq = m.weight
    levels = torch.unique((wq / wq.abs().amax(1, keepdim=True)).detach().round(decimals=4))
    assert len(levels) <= 2 * reram.preset("neurram").device.levels - 1
    wq.sum().backward()
    latent = m.parametrizations.weight.original
    inside = latent.abs() <= torch.quantile(latent.abs(), 0.995, dim=1, keepdim=True)
    assert torch.equal(latent.grad[inside], torch.ones_like(latent.grad[inside]))


def test_fake_quant_gradient_is_one_inside_zero_outside_and_learns_range():
    q = FakeQuant(bits=3, learned=True, percentile=100.0)
    q.train()
    x = torch.tensor([-0.5, 0.1, 0.3, 0.9], requires_grad=True)
    q(x)  # first call sets the range to max|x| = 0.9
    with torch.no_grad():
        q.alpha.fill_(0.4)
    out = q(x)
    assert len(torch.unique(out.detach())) <= 2 * 7 + 1
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 0.0]
    q.alpha.grad = None
    q(torch.tensor([0.1, 0.9])).sum().backward()  # one clipped value pulls the range up
    assert float(q.alpha.grad) > 0.5


def test_weight_noise_has_the_configured_std_and_only_in_training():
    m = nn.Linear(400, 300)
    prepare_hwa(m, HWAConfig(noise_level=0.1, quantize_weights=False, input_bits=0), "neurram")
    latent = m.parametrizations.weight.original.detach()
    m.train()
    noise = m.weight.detach() - latent
    assert float(noise.std()) == pytest.approx(0.1 * float(latent.abs().max()), rel=0.02)
    m.eval()
    assert torch.equal(m.weight, latent)


def test_ramp_schedule_grows_the_noise():
    m = nn.Sequential(nn.Linear(50, 50))
    prepare_hwa(m, HWAConfig(noise_level=0.2, ramp_epochs=4, quantize_weights=False, input_bits=0))
    set_noise_epoch(m, 0)
    assert m[0].parametrizations.weight[0].noise_scale == pytest.approx(0.05)
    set_noise_epoch(m, 7)
    assert m[0].parametrizations.weight[0].noise_scale == pytest.approx(0.2)


def test_convert_asks_to_strip_first_and_works_after():
    m, _ = build("neurram_mnist_cnn")
    prepare_hwa(m)
    with pytest.raises(ValueError, match="strip_hwa"):
        reram.convert(m, "neurram")
    strip_hwa(m)
    a = reram.convert(m, "neurram")
    assert a(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_bad_hwa_settings_are_named():
    with pytest.raises(reram.ConfigError, match="hwa.noise_level"):
        HWAConfig(noise_level=-1)
    with pytest.raises(reram.ConfigError, match="hwa.input_range"):
        HWAConfig(input_range="magic")
    with pytest.raises(reram.ConfigError, match="hwa.finetune_epochs"):
        HWAConfig(finetune_epochs=-1)
    with pytest.raises(reram.ConfigError, match="hwa.finetune_lr"):
        HWAConfig(finetune_lr=0.0)


def test_chip_in_the_loop_fine_tuning_improves_a_small_seeded_case():
    from reram.data import load_digits
    from reram.train import evaluate, monte_carlo, progressive_finetune

    d = load_digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    fit(model, d.x_train, d.y_train, epochs=30, lr=1e-2, batch_size=64, seed=0)
    harsh = {
        "base": "neurram",
        "device": {"read_noise_rel": 0.0, "read_noise_model": "constant", "levels": 3},
        "periphery": {"adc": {"bits": 4}},
    }
    plain = monte_carlo(model, harsh, d.x_train, d.y_train, seeds=[0, 1], ages_s=[1.0])[1.0]["mean"]
    tuned = progressive_finetune(model, harsh, d.x_train, d.y_train, epochs_per_stage=5, lr=3e-3, seed=0)
    after = monte_carlo(tuned, harsh, d.x_train, d.y_train, seeds=[0], ages_s=[1.0])[1.0]["mean"]
    assert after > plain + 3.0, (plain, after)  # seen: 87.4 -> 94.3
    assert evaluate(tuned, d.x_test, d.y_test) > 88  # seen: 84.4 before, 93.6 after


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 4),
    n=st.integers(1, 300),
    frac=st.floats(0.0, 1.0),
    levels=st.sampled_from([0, 3, 1000]),
    seed=st.integers(0, 2**16),
)
def test_kth_smallest_equals_kthvalue(rows: int, n: int, frac: float, levels: int, seed: int) -> None:
    """The clip and input-range percentiles' selection (topk of the few largest where the rank is
    high) gives torch.kthvalue's value exactly, ties (few levels) included."""
    from reram.train.hwa import kth_smallest

    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(rows, n, generator=gen)
    if levels:
        a = (a * levels).floor()
    k = 1 + round(frac * (n - 1))
    assert torch.equal(kth_smallest(a, k, dim=1), a.kthvalue(k, dim=1).values)
    assert torch.equal(kth_smallest(a[0], k), a[0].kthvalue(k).values)


def test_calibrated_fake_quant_rounds_to_its_levels_with_the_gradient_straight_through() -> None:
    q = FakeQuant(bits=3, learned=False, percentile=100.0)
    q.train()
    q(torch.tensor([0.7, -0.2]))  # the range: max |x| = 0.7
    q.eval()
    x = torch.tensor([-0.9, -0.31, 0.05, 0.7, 1.2], requires_grad=True)
    out = q(x)
    step = 0.7 / 7
    want = torch.tensor([-7.0, -3.0, 0.0, 7.0, 7.0]) * step
    assert torch.allclose(out.detach(), want, rtol=1e-6, atol=0)
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]  # clipped inputs get none
