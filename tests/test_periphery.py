import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reram.config import DACConfig
from reram.periphery import adc_convert, encode_inputs


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 12), st.floats(1e-6, 1.0))
def test_adc_is_monotone_and_saturates(bits, fs):
    x = torch.linspace(-3 * fs, 3 * fs, 2**bits * 16 + 1, dtype=torch.float64)
    q = adc_convert(x, torch.tensor(fs, dtype=torch.float64), bits)
    assert bool((q.diff() >= 0).all())
    assert float(q.max()) == pytest.approx(fs) and float(q.min()) == pytest.approx(-fs)
    assert bool((q[x > fs] == q.max()).all())
    assert len(torch.unique(q)) == 2**bits - 1


def test_adc_error_is_half_a_step_inside_range():
    x = torch.rand(10000, dtype=torch.float64) * 2 - 1
    q = adc_convert(x, torch.tensor(1.0, dtype=torch.float64), 6)
    assert float((q - x).abs().max()) <= 0.5 / 31 + 1e-12


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.booleans())
def test_bit_planes_recombine_to_the_quantised_input(bits, serial):
    x = torch.rand(500, generator=torch.Generator().manual_seed(bits)) * 2 - 1
    p = encode_inputs(x, 1.0, DACConfig(bits=bits, bit_serial=serial), v_read_V=0.2)
    full = 2**bits - 1
    rebuilt = sum(w * plane for w, plane in zip(p.weights, p.planes, strict=True)) / 0.2 / (full if serial else 1)
    assert torch.allclose(rebuilt, torch.round(x * full) / full, atol=1e-6)
    if serial:
        vals = torch.unique(p.planes)
        assert float(vals.min()) == 0.0 or len(vals) == 1
        assert torch.allclose(vals[vals > 0], torch.tensor(0.2))
        assert len(p.weights) == 2 * bits  # signed inputs: two phases


def test_unsigned_inputs_use_one_phase_and_clip():
    p = encode_inputs(torch.tensor([0.0, 0.5, 2.0]), 1.0, DACConfig(bits=4), v_read_V=0.2)
    assert len(p.weights) == 1 and float(p.planes.max()) == pytest.approx(0.2)


def test_adc_mismatch_is_a_seeded_fixed_pattern_that_correction_removes() -> None:
    from torch import nn

    import reram

    torch.manual_seed(0)
    lin = nn.Linear(64, 32, bias=False)
    x = torch.rand(256, 64)
    base = {"base": "ideal", "periphery": {"adc": {"bits": 8}}}
    errors = {}
    for corr in ("none", "offset", "offset_gain"):
        cfg = {**base, "periphery": {"adc": {"bits": 8, "offset_sigma_lsb": 2.0, "gain_sigma": 0.05,
                                             "correction": corr}}}  # fmt: skip
        chip = reram.convert(lin, cfg)
        chip.program(seed=3)
        with torch.no_grad():
            errors[corr] = float((chip(x) - lin(x)).pow(2).mean().sqrt())
        pattern = chip.adc_pattern.clone()
        chip.program(seed=3)
        assert torch.equal(chip.adc_pattern, pattern)  # fixed pattern: the same chip, the same converters
    ideal = reram.convert(lin, base)
    ideal.program(seed=3)
    with torch.no_grad():
        e0 = float((ideal(x) - lin(x)).pow(2).mean().sqrt())
    assert errors["none"] > errors["offset"] > errors["offset_gain"] and errors["none"] > 3 * e0


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 10), st.floats(0.0, 1.0))
def test_adc_with_inl_stays_monotone(bits: int, frac: float) -> None:
    from reram.config import ADCConfig
    from reram.periphery.adc import distort_, to_codes_

    cfg = ADCConfig(bits=bits, inl_lsb=min(63.0, frac * 0.99 * (2 ** (bits - 1) - 1) / 27**0.5))
    fs = torch.tensor([1.0])
    x = torch.linspace(-1.2, 1.2, 4001)
    step = (fs / (2 ** (bits - 1) - 1)).view(1, 1)
    codes = to_codes_(distort_(x.clone().view(-1, 1), fs, None, cfg, (1, 1)), step, bits)
    assert bool((codes.flatten().diff() >= 0).all())


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3000), p=st.floats(50, 99.9999), seed=st.integers(0, 2**31))
def test_upper_percentile_from_topk_equals_torch_quantile(n: int, p: float, seed: int) -> None:
    from reram.periphery.adc import percentile_abs

    x = torch.randn(3, n, generator=torch.Generator().manual_seed(seed))
    want = torch.quantile(x.abs(), p / 100, dim=-1)
    assert torch.allclose(percentile_abs(x, p), want, rtol=2e-4, atol=0)  # torch.quantile rounds q to float32


def test_dnl_moves_code_transitions_monotone_with_seeded_code_widths() -> None:
    """DNL: codes stay monotone along a ramp, the measured code widths spread with the configured
    std (seeded, 15 %), the end transitions stay put, and 0 gives the ideal rounding."""
    from reram.config import ADCConfig
    from reram.periphery.adc import dnl_offsets, to_codes_, to_codes_dnl_

    cfg = ADCConfig(bits=6, dnl_lsb=0.3)
    offsets = dnl_offsets((1, 4), cfg, torch.Generator().manual_seed(0), torch.zeros(()))
    assert offsets.shape == (62, 1, 4)
    assert torch.allclose(offsets[[0, -1]], torch.zeros(2, 1, 4), atol=1e-6)
    ramp = torch.linspace(-31.6, 31.6, 200001).view(-1, 1, 1).expand(-1, 1, 4).contiguous()
    codes = to_codes_dnl_(ramp.clone(), torch.ones(1, 1, 1), 6, offsets)
    assert bool((codes.diff(dim=0) >= 0).all())
    widths = torch.stack([(codes[:, 0, c] == k).sum() for c in range(4) for k in range(-30, 31)]).double()
    widths = widths / (200000 / 63.2)  # samples per LSB
    assert abs(float(widths.std()) / 0.3 - 1) < 0.15
    ideal = to_codes_(ramp.clone(), torch.ones(1, 1, 1), 6)
    assert torch.equal(to_codes_dnl_(ramp.clone(), torch.ones(1, 1, 1), 6, torch.zeros(62, 1, 4)), ideal)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["phases", "polarity"]), st.booleans(), st.integers(2, 8),
       st.floats(0.0, 1.5))  # fmt: skip
@example(0, "phases", False, 4, 0.3)  # below zero, rounds to code 0
@example(0, "phases", True, 4, 0.7)  # rounds to code -1
def test_encoding_with_the_callers_minimum_equals_the_encoding_that_finds_it(
    seed: int, sign: str, bit_serial: bool, bits: int, low: float
) -> None:
    """The caller's smallest input decides the sign phases as the codes' own minimum would,
    including an input slightly below zero that rounds to code 0 (no negative phase)."""
    g = torch.Generator().manual_seed(seed)
    dac = DACConfig(bits=bits, bit_serial=bit_serial, sign=sign)
    x = torch.rand(5, 13, generator=g)
    x_range = x.amax() * 1.3
    x[0, 0] = -low * float(x_range) / (2**dac.magnitude_bits - 1)  # `low` code steps below zero
    want = encode_inputs(x, x_range, dac, 0.2)
    got = encode_inputs(x, x_range, dac, 0.2, x_min=x.amin())
    assert got.weights == want.weights and torch.equal(got.planes, want.planes)
