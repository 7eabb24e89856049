"""Restricted Boltzmann machine: contrastive-divergence training, Gibbs sampling, image recovery,
in float and on a transposable analog array (NeuRRAM's probabilistic-model demonstration).

NeuRRAM (Wan et al., Nature 2022) ran an RBM of 794 visible units (784 binarised MNIST pixels and
10 one-hot label units) and 120 hidden units on one core: visible -> hidden with the forward MVM,
hidden -> visible with the transposed MVM of the same cells, stochastic binary neurons, 10 Gibbs
steps per recovery; it cut the error of corrupted images by 70 % (salt-and-pepper noise, a
missing half). :class:`RBM` holds the weights as an ``nn.Linear`` (visible -> hidden), so
:func:`reram.convert` maps it like any layer; :class:`AnalogRBM` runs its Gibbs chain on the chip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import nn

from reram.config import Config, load_config
from reram.nn.convert import analog_layers, calibrate, convert
from reram.nn.layers import AnalogLinear
from reram.nn.transposed import TransposedRead


class RBM(nn.Module):
    """Bernoulli RBM; ``lin`` maps visible to hidden (weight (hidden, visible), hidden bias).

    Args:
        n_visible, n_hidden: unit counts (NeuRRAM: 794 and 120).

    """

    def __init__(self, n_visible: int = 794, n_hidden: int = 120):
        super().__init__()
        self.lin = nn.Linear(n_visible, n_hidden)
        nn.init.normal_(self.lin.weight, std=0.01)
        nn.init.zeros_(self.lin.bias)
        self.b_visible = nn.Parameter(torch.zeros(n_visible))

    def hidden_logits(self, v: torch.Tensor) -> torch.Tensor:
        """Pre-activations of the hidden units given visible states (N, visible)."""
        return self.lin(v)

    def visible_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Pre-activations of the visible units given hidden states (N, hidden)."""
        return h @ self.lin.weight + self.b_visible

    @torch.no_grad()
    def fit(
        self, v_data: torch.Tensor, epochs: int = 10, lr: float = 0.05, k: int = 5, batch_size: int = 64, seed: int = 0
    ) -> list[float]:
        """Contrastive divergence CD-k (Hinton 2002) with momentum 0.5; returns the reconstruction
        error (mean squared, per unit) of each epoch.
        """
        gen = torch.Generator(device=v_data.device).manual_seed(seed)
        vel = [torch.zeros_like(p) for p in (self.lin.weight, self.lin.bias, self.b_visible)]
        errs = []
        for _ in range(epochs):
            perm = torch.randperm(len(v_data), generator=gen, device=v_data.device)
            total = 0.0
            for idx in perm.split(batch_size):
                v0 = v_data[idx]
                ph0 = torch.sigmoid(self.hidden_logits(v0))
                h = torch.bernoulli(ph0, generator=gen)
                for _ in range(k):
                    pv = torch.sigmoid(self.visible_logits(h))
                    v = torch.bernoulli(pv, generator=gen)
                    ph = torch.sigmoid(self.hidden_logits(v))
                    h = torch.bernoulli(ph, generator=gen)
                n = len(idx)
                grads = ((ph0.T @ v0 - ph.T @ v) / n, (ph0 - ph).mean(0), (v0 - v).mean(0))
                for p, m, g in zip((self.lin.weight, self.lin.bias, self.b_visible), vel, grads, strict=True):
                    m.mul_(0.5).add_(g, alpha=lr)
                    p.add_(m)
                total += float(((v0 - pv) ** 2).sum())
            errs.append(total / v_data.numel())
        return errs


Sampler = Callable[[torch.Tensor], torch.Tensor]


def gibbs_recover(
    hidden_logits: Sampler,
    visible_logits: Sampler,
    v_start: torch.Tensor,
    known: torch.Tensor | None,
    steps: int = 10,
    gen: torch.Generator | None = None,
    evidence: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run ``steps`` Gibbs sweeps from ``v_start``, holding ``known`` units (bool mask) at their
    start values; returns the posterior-mean estimate of the visible units (N, visible): their
    probabilities averaged over the last half of the sweeps.

    ``evidence`` (N, visible) is added to the visible pre-activations: the log-likelihood ratio
    of what a noisy channel showed, so the chain samples the posterior of the clean image given
    the observation instead of drifting to any likely image (see :func:`channel_evidence`).
    """
    v, pv = v_start, v_start
    total, n = torch.zeros_like(v_start), 0
    for step in range(steps):
        h = torch.bernoulli(torch.sigmoid(hidden_logits(v)), generator=gen)
        a = visible_logits(h)
        pv = torch.sigmoid(a if evidence is None else a + evidence)
        v = torch.bernoulli(pv, generator=gen)
        if known is not None:
            v = torch.where(known, v_start, v)
            pv = torch.where(known, v_start, pv)
        if step >= steps // 2:
            total, n = total + pv, n + 1
    return total / max(n, 1)


def channel_evidence(observed: torch.Tensor, flip_probability: float) -> torch.Tensor:
    """Visible-unit evidence of a binary symmetric channel: +-log((1 - q) / q) for an observed 1 / 0.

    Salt-and-pepper noise that replaces a pixel by a random 0/1 with probability p flips it with
    q = p / 2.
    """
    if not 0 < flip_probability < 0.5:
        raise ValueError(f"flip_probability = {flip_probability!r} is invalid: allowed is 0 < q < 0.5")
    llr = torch.log(torch.tensor((1 - flip_probability) / flip_probability))
    return (2 * observed - 1) * llr


class AnalogRBM:
    """An RBM's Gibbs chain on one transposable array stack: forward MVM visible -> hidden, the
    transposed MVM hidden -> visible on the same programmed cells; biases and the stochastic
    binary neurons digital (NeuRRAM injects noise in its neurons; here a seeded generator).

    Args:
        rbm: a trained :class:`RBM` (its weights are programmed; it is not modified).
        config: the chip (``array.scale`` is set to "tile": the transposed read needs it).
        calibration: visible samples (N, visible) for the forward and transposed ranges.

    """

    def __init__(self, rbm: RBM, config: Config | str, calibration: torch.Tensor, seed: int | None = None):
        cfg = load_config(config) if isinstance(config, str) else config
        cfg = dataclasses.replace(cfg, array=dataclasses.replace(cfg.array, scale="tile"))
        self.rbm = rbm
        layer = next(m for _, m in analog_layers(convert(nn.Sequential(rbm.lin), cfg)))
        assert isinstance(layer, AnalogLinear)
        self.layer = layer
        self.layer.program(seed)
        calibrate(nn.Sequential(self.layer), [calibration])
        self.transposed = TransposedRead(self.layer)
        with torch.no_grad():
            h = torch.bernoulli(
                torch.sigmoid(rbm.hidden_logits(calibration)), generator=torch.Generator().manual_seed(0)
            )
        self.transposed.calibrate([h])

    @torch.no_grad()
    def hidden_logits(self, v: torch.Tensor) -> torch.Tensor:
        """Forward analog MVM (visible on the rows), hidden bias added digitally."""
        return self.layer(v)

    @torch.no_grad()
    def visible_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Transposed analog MVM (hidden on the columns) on the same cells, visible bias digital."""
        return self.transposed(h) + self.rbm.b_visible
