"""Nothing stays float without a word: what convert leaves digital is reported, never bypassed."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

import reram


class _MyLinear(nn.Linear):
    pass


def _names(rows):  # type: ignore[no-untyped-def]
    return {r.name: r for r in rows}


def test_every_weight_holding_module_left_digital_is_listed_with_its_reason(caplog) -> None:
    model = nn.ModuleDict({
        "lstm": nn.LSTM(8, 8), "gru": nn.GRU(8, 8), "attn": nn.MultiheadAttention(8, 2),
        "conv3d": nn.Conv3d(2, 2, 3), "deconv": nn.ConvTranspose2d(2, 2, 3), "sub": _MyLinear(8, 8),
        "emb": nn.Embedding(10, 8), "fc": nn.Linear(8, 4), "grouped": nn.Conv2d(4, 4, 3, groups=2),
    })  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="reram"):
        chip = reram.convert(model, "ideal")
    rows = _names(reram.digital_modules(chip))
    assert set(rows) == {"lstm", "gru", "attn.products", "conv3d", "deconv", "sub", "emb", "grouped"}
    assert "recurrent" in rows["lstm"].reason and "activation x activation" in rows["attn.products"].reason
    assert rows["attn.products"].weights == 0 and isinstance(chip["attn"].q_proj, reram.nn.AnalogLinear)
    assert "subclass" in rows["sub"].reason and "groups=2" in rows["grouped"].reason
    assert 0 < sum(r.share for r in rows.values()) < 1
    assert isinstance(chip["fc"], reram.nn.AnalogLinear)
    warned = [r.getMessage() for r in caplog.records if "stay digital" in r.getMessage()]
    assert len(warned) == len({r.type for r in rows.values()})  # once per type
    with pytest.raises(ValueError, match="strict=True.*\n.*lstm"):
        reram.convert(model, "ideal", strict=True)


def test_a_model_with_nothing_to_convert_says_what_it_holds() -> None:
    with pytest.raises(ValueError, match="no layer to put on cores.*\n.*LSTM"):
        reram.convert(nn.LSTM(4, 4), "ideal")


def test_per_layer_patterns_that_match_nothing_name_the_layers() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="'fc\\*' matches no converted layer.*'0', '2'"):
        reram.convert(model, "ideal", per_layer={"fc*": {"periphery": {"adc": {"bits": 8}}}})
    chip = reram.convert(model, "ideal", per_layer={"2": {"periphery": {"adc": {"bits": 8}}}})
    assert chip[2].config.periphery.adc.bits == 8


def test_transformer_fast_path_never_bypasses_the_converted_linears() -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True, dropout=0.0).eval()
    x = torch.rand(2, 5, 16)
    cfg = {"base": "neurram", "device": {"read_noise_rel": 0.05}}
    chip = reram.convert(layer, cfg)
    with torch.no_grad():
        y_float, y = layer(x), chip(x)
    assert chip.linear1.events.total().vectors == 10 and chip.linear2.events.total().vectors == 10
    assert not torch.allclose(y, y_float)
    assert chip.self_attn.q_proj.events.total().vectors == 10  # the attention's projections are read too
    assert {r.name for r in reram.digital_modules(chip)} == {"self_attn.products"}


def test_calibration_warns_about_converted_layers_the_forward_never_reads(caplog) -> None:
    class Skips(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.unused = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    chip = reram.convert(Skips(), "ideal")
    with caplog.at_level(logging.WARNING, logger="reram"):
        reram.calibrate(chip, [torch.rand(8, 4)])
    assert any("never read ['unused']" in r.getMessage() for r in caplog.records)
    assert bool(chip.used.calibrated) and not bool(chip.unused.calibrated)


class _Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(6, 8, batch_first=True)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(x)
        a, _ = self.attn(h, h, h)
        return self.fc(a)


def test_what_stays_digital_is_priced_as_digital_work() -> None:
    from reram.cost import cost_of_model, cost_of_run

    model = _Tagger()
    work, rep = cost_of_model(model, "neurram", (5, 6))  # 5 time steps of 6 features
    layers = {lw.name: lw for lw in work.layers}
    assert not layers["lstm"].analog and layers["lstm"].macs == 5 * 4 * 8 * (6 + 8)
    e = 8
    assert layers["attn.products"].macs == 2 * 5 * 5 * e and not layers["attn.products"].analog  # QK^T and AV
    assert all(layers[f"attn.{p}_proj"].analog for p in "qkvo"[:3]) and layers["attn.out_proj"].analog
    assert layers["fc"].analog
    assert rep.component_energy_J()["digital_layers"] > 0
    chip = reram.convert(model, {"base": "neurram", "device": {"read_noise_rel": 0.0, "read_noise_model": "constant"}})
    chip.program()
    with torch.no_grad():
        chip(torch.rand(4, 5, 6))
    counted, _ = cost_of_run(chip, (5, 6))
    assert {lw.name for lw in counted.layers if not lw.analog} == {"lstm", "attn.products"}
    assert cost_of_run(chip)[0].unpriced == ["attn.products", "lstm"]
