"""Plain supervised training and evaluation, seeded, with an optional progress callback."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Progress = Callable[[int, int], None]


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 3,
    lr: float = 1e-3,
    batch_size: int = 128,
    seed: int = 0,
    progress: Progress | None = None,
    on_epoch: Callable[[int], None] | None = None,
    params: list[torch.nn.Parameter] | None = None,
) -> list[float]:
    """Train ``model`` with Adam (one-cycle learning rate) and cross-entropy; returns the mean loss per epoch.

    Args:
        progress: called as ``progress(done_batches, total_batches)``.
        on_epoch: called with the epoch index (0-based) before each epoch (noise schedules).
        params: the parameters to train (default: all of the model's).

    """
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters() if params is None else params, lr=lr)
    device = next(model.parameters()).device
    n = len(y)
    per_epoch = -(-n // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * per_epoch)
    losses = []
    model.train()
    for epoch in range(epochs):
        if on_epoch is not None:
            on_epoch(epoch)
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for b in range(per_epoch):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            xb, yb = x[idx].to(device), y[idx].to(device)
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            if progress:
                progress(epoch * per_epoch + b + 1, epochs * per_epoch)
        losses.append(total / n)
    model.eval()
    return losses


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy (%) of ``model`` on (x, y)."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for b in range(0, len(y), batch_size):
        out = model(x[b : b + batch_size].to(device))
        correct += int((out.argmax(1).cpu() == y[b : b + batch_size]).sum())
    return 100.0 * correct / max(len(y), 1)
