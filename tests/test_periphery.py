import pytest
import torch
from hypothesis import given, settings
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
