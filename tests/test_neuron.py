"""The input scheme and the integrating neuron: polarity-signed inputs, analog accumulation of bit
planes (one conversion per slice), two-phase slices, and what they count.
"""

from __future__ import annotations

import pytest
import torch

import reram
from reram.config import ConfigError, DACConfig, override, preset
from reram.periphery.dac import encode_inputs, plane_counts


def _chip(accumulate: str, bits: int = 4, **dac: object) -> reram.Config:
    d = {"accumulate": accumulate, "bits": bits, **dac}
    if accumulate == "digital":
        d["split_bits"] = 0
    return override(
        preset("neurram"), {"device": {"read_noise_rel": 0.0, "read_noise_model": "constant"}, "periphery": {"dac": d}}
    )


def _ray(cfg: reram.Config) -> torch.Tensor:
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 8, bias=False)
    with torch.no_grad():
        lin.weight.abs_()  # non-negative weights: the exact output is monotone along the ray
    m = reram.convert(torch.nn.Sequential(lin), cfg)
    x = torch.rand(1, 64) * torch.linspace(0, 1, 1001).unsqueeze(1)
    reram.calibrate(m, [x])
    with torch.no_grad():
        return m(x)


def test_integrated_planes_are_monotone_along_an_input_ray() -> None:
    """One conversion of the integrated charge: no step down; per-plane rounding steps down."""
    integrated, per_plane = _ray(_chip("analog")), _ray(_chip("digital"))
    assert int((integrated.diff(dim=0) < 0).sum()) == 0
    assert int((per_plane.diff(dim=0) < -1e-6 * per_plane.abs().max()).sum()) > 20


def test_analog_and_digital_accumulation_agree_with_a_fine_adc() -> None:
    fine = {"device": {"program_mode": "exact", "levels": 0}, "periphery": {"adc": {"bits": 20, "percentile": 100.0}}}
    a, d = _ray(override(_chip("analog"), fine)), _ray(override(_chip("digital"), fine))
    assert torch.allclose(a, d, rtol=0, atol=1e-4 * float(d.abs().max()))


def test_polarity_inputs_one_phase_sign_in_the_pulse() -> None:
    dac = DACConfig(bits=4, bit_serial=True, sign="polarity")
    x = torch.tensor([[-1.0, -0.5, 0.0, 0.5, 1.0]])
    p = encode_inputs(x, 1.0, dac, 0.2)
    assert len(p.weights) == 3  # 3 magnitude bits, no second phase
    codes = sum(w * pl for w, pl in zip(p.weights, p.planes / 0.2, strict=True))
    assert codes.tolist() == [[-7.0, -4.0, 0.0, 4.0, 7.0]]  # round(3.5) = 4 (half to even)
    assert DACConfig(bits=1, sign="polarity").magnitude_bits == 1  # a 1-bit signed input is +-1, 0


def test_two_phase_slices_and_their_counts() -> None:
    dac = DACConfig(bits=6, bit_serial=True, sign="polarity", accumulate="analog", split_bits=5)
    p = encode_inputs(torch.rand(2, 7), 1.0, dac, 0.2)
    assert p.slices == [[0, 1], [2, 3, 4]] and p.repeats == [1, 2, 1, 2, 4]
    assert plane_counts(dac) == (5, 2, 10) == (len(p.weights), p.conversions, p.timesteps)
    assert plane_counts(DACConfig(bits=4, bit_serial=True, accumulate="analog"), 2) == (8, 2, 30)


def test_counted_events_of_an_integrating_layer() -> None:
    m = reram.convert(torch.nn.Sequential(torch.nn.Linear(16, 4)), _chip("analog"))
    with torch.no_grad():
        m(torch.rand(5, 16))
    e = reram.events(m)["0"].as_dict()
    assert e["mvms"] == 5 * 3 and e["slices"] == 5 and e["timesteps"] == 5 * 7
    assert e["adc_conversions"] == 5 * 4 and e["integrations"] == 5 * 7 * 4 and e["shift_adds"] == 0


@pytest.mark.parametrize(
    ("fields", "msg"),
    [({"accumulate": "analog", "bit_serial": False}, "periphery.dac.accumulate"),
     ({"split_bits": 5}, "periphery.dac.split_bits"),
     ({"accumulate": "analog", "bit_serial": True, "split_bits": 1}, "periphery.dac.split_bits"),
     ({"sign": "both"}, "periphery.dac.sign")],
)  # fmt: skip
def test_bad_input_schemes_are_named(fields: dict[str, object], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        DACConfig(**fields)  # type: ignore[arg-type]
