"""Transposed reads on the programmed cells (TNSA) and the RBM's Gibbs chain in float and analog."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import reram
from reram.nn.rbm import RBM, AnalogRBM, gibbs_recover
from reram.nn.transposed import TransposedRead


def _programmed(preset: str, over: dict | None = None) -> tuple[nn.Linear, reram.nn.AnalogLinear]:  # type: ignore[type-arg]
    torch.manual_seed(0)
    lin = nn.Linear(100, 50)
    cfg = reram.override(reram.preset(preset), {"array": {"rows": 64, "cols": 32, "scale": "tile", **(over or {})}})
    layer = reram.convert(nn.Sequential(lin), cfg)[0]
    layer.program(0)
    return lin, layer


def test_transposed_read_on_ideal_cells_is_the_transposed_product() -> None:
    lin, layer = _programmed("ideal")
    y = torch.rand(16, 50)
    t = TransposedRead(layer).calibrate([y])
    ref = y @ lin.weight.detach()
    assert layer.grid.n_row > 1 and layer.grid.n_col > 1  # partial sums across tiles in both directions
    assert torch.allclose(t(y), ref, rtol=1e-4, atol=1e-5 * float(ref.abs().max()))


def test_transposed_read_sees_the_same_programmed_cells() -> None:
    lin, layer = _programmed("neurram")
    y = torch.rand(64, 50)
    t = TransposedRead(layer).calibrate([y])
    out, ref = t(y), y @ lin.weight.detach()
    err = float((out - ref).abs().max() / ref.abs().max())
    assert 1e-4 < err < 0.15  # the chip's non-idealities act, the product survives
    # it reads the cells as they are now: a stuck-at-zero column of cells changes the transposed product
    layer.g_S[:, :, :, 0] = 0.0
    t2 = TransposedRead(layer).calibrate([y])
    assert not torch.allclose(t2(y), out)


@pytest.mark.parametrize(
    ("over", "msg"), [({"scale": "column"}, "array.scale"), ({"ir_drop": "exact"}, "array.ir_drop")]
)
def test_transposed_read_names_what_it_cannot_do(over: dict, msg: str) -> None:  # type: ignore[type-arg]
    _, layer = _programmed("neurram", over)
    with pytest.raises(ValueError, match=msg):
        TransposedRead(layer)
    _, ok = _programmed("neurram")
    with pytest.raises(ValueError, match=r"\(N, 50\)"):
        TransposedRead(ok)(torch.rand(3, 49))


def _bars(n: int, gen: torch.Generator) -> torch.Tensor:
    """Binary 6x6 images of one horizontal or vertical bar (a tiny dataset an RBM learns)."""
    imgs = torch.zeros(n, 6, 6)
    k = torch.randint(0, 6, (n,), generator=gen)
    vert = torch.rand(n, generator=gen) < 0.5
    for i in range(n):
        if vert[i]:
            imgs[i, :, k[i]] = 1
        else:
            imgs[i, k[i], :] = 1
    return imgs.view(n, 36)


@torch.no_grad()
def test_rbm_learns_and_recovers_on_float_and_analog() -> None:
    gen = torch.Generator().manual_seed(0)
    data = _bars(600, gen)
    torch.manual_seed(0)
    rbm = RBM(36, 32)
    errs = rbm.fit(data, epochs=60, lr=0.1, k=5, batch_size=32)
    assert errs[-1] < 0.5 * errs[0]
    clean = _bars(100, gen)
    noisy = torch.where(torch.rand(clean.shape, generator=gen) < 0.1, 1 - clean, clean)
    base = float(((noisy - clean) ** 2).sum())
    for model in (rbm, AnalogRBM(rbm, "neurram", data[:200])):
        rec = gibbs_recover(
            model.hidden_logits, model.visible_logits, noisy, None, 10, torch.Generator().manual_seed(1)
        )
        assert float(((rec - clean) ** 2).sum()) < 0.3 * base  # 10 Gibbs steps remove most of the noise
    known = torch.zeros_like(clean, dtype=torch.bool)
    known[:, :18] = True
    rec = gibbs_recover(rbm.hidden_logits, rbm.visible_logits, clean * known, known, 10)
    assert torch.equal(rec[:, :18], clean[:, :18])  # known pixels stay clamped


def test_channel_evidence_anchors_a_noisy_recovery() -> None:
    from reram.nn.rbm import channel_evidence

    ev = channel_evidence(torch.tensor([[1.0, 0.0]]), 0.05)
    assert torch.allclose(ev, torch.tensor([[1.0, -1.0]]) * torch.log(torch.tensor(19.0)))
    with pytest.raises(ValueError, match="flip_probability = 0.5"):
        channel_evidence(torch.zeros(1, 2), 0.5)


def test_bench_corruptions_are_what_they_say() -> None:
    from reram.experiments.bench_neurram import corruptions

    clean = torch.cat([(torch.rand(50, 784) < 0.2).float(), torch.eye(10)[torch.arange(50) % 10]], 1)
    c = corruptions(clean, seed=0, noise=0.2)
    noisy, known, ev = c["salt-and-pepper"]
    changed = float((noisy[:, :784] != clean[:, :784]).float().mean())
    assert 0.07 < changed < 0.13 and known is None and ev is not None  # half the replaced pixels change
    assert bool((noisy[:, 784:] == 0).all())  # labels unknown
    half, known, ev = c["bottom half missing"]
    assert bool((half[:, 392:] == 0).all()) and torch.equal(half[:, :392], clean[:, :392]) and ev is None
    assert known is not None and int(known.sum()) == 50 * 392


def test_bench_command_explains_and_rejects_unknown_suites(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from reram.cli import app

    r = CliRunner().invoke(app, ["bench", "--help"])
    assert r.exit_code == 0 and "neurram" in r.output
    r = CliRunner().invoke(app, ["bench", "imagenet", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "suite = 'imagenet'" in r.output


@pytest.mark.slow
def test_neurram_suite_quick_end_to_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from reram.experiments.bench_neurram import run_neurram_bench

    s = run_neurram_bench(tmp_path, quick=True)
    assert (tmp_path / "bench_neurram.json").exists() and (tmp_path / "rbm_recovery.png").exists()
    rbm = {r["task"]: r for r in s["rows"] if r["task"].startswith("RBM")}
    assert rbm["RBM recovery, salt-and-pepper"]["analog"] >= 70
