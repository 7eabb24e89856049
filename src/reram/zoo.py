"""Named float networks used by the jobs, benchmarks and tests (plain torch modules)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def fashion_cnn(classes: int = 10) -> nn.Module:
    """The default job's CNN for 1x28x28 images: two 3x3 conv blocks, FC 1568-128-classes."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, classes),
    )  # fmt: skip


def neurram_mnist_cnn(classes: int = 10) -> nn.Module:
    """NeuRRAM's MNIST CNN (Wan et al., Nature 2022, authors' repository): six 3x3 conv layers of
    8-8-16-16-32-32 channels, three max-pools, FC 512 -> classes. 28x28 inputs are zero-padded to
    32x32 so that 32 channels x 4 x 4 = 512 features reach the classifier.
    """

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]

    return nn.Sequential(
        nn.ZeroPad2d(2),
        *block(1, 8), *block(8, 8), nn.MaxPool2d(2),
        *block(8, 16), *block(16, 16), nn.MaxPool2d(2),
        *block(16, 32), *block(32, 32), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(512, classes),
    )  # fmt: skip


def mlp(classes: int = 10, in_features: int = 784) -> nn.Module:
    """MLP in_features-256-128-classes for flattened images (default 28x28)."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(in_features, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, classes)
    )


def lenet5(classes: int = 10) -> nn.Module:
    """LeNet-5-like CNN for 1x28x28 images."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, classes),
    )  # fmt: skip


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1, stride) if (stride != 1 or cin != cout) else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x):  # type: ignore[no-untyped-def]  # noqa: D102
        return self.relu(self.conv2(self.relu(self.conv1(x))) + self.skip(x))


def resnet_small(classes: int = 10) -> nn.Module:
    """ResNet-like CNN for 3x32x32 images: stem and residual stages of 32, 64, 128 channels."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
        _Block(32, 32, 1), _Block(32, 64, 2), _Block(64, 128, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, classes),
    )  # fmt: skip


class _Residual(nn.Module):
    """relu(body(x) + skip(x)), with a batch-normed 1x1 projection as skip where the shape changes."""

    def __init__(self, body: nn.Module, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = body
        self.skip = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )
        self.relu = nn.ReLU()

    def forward(self, x):  # type: ignore[no-untyped-def]  # noqa: D102
        return self.relu(self.body(x) + self.skip(x))


def _basic(cin: int, cout: int, stride: int) -> nn.Module:
    """ResNet basic block: two 3x3 convolutions with batch norm."""
    body = nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
        nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
    )  # fmt: skip
    return _Residual(body, cin, cout, stride)


def _bottleneck(cin: int, width: int, stride: int) -> nn.Module:
    """ResNet bottleneck block: 1x1 - 3x3 - 1x1 (4 x width out) with batch norm."""
    cout = 4 * width
    body = nn.Sequential(
        nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout),
    )  # fmt: skip
    return _Residual(body, cin, cout, stride)


def resnet20(classes: int = 10) -> nn.Module:
    """ResNet-20 for 3x32x32 images (He et al. 2016, CIFAR variant: three stages of three basic
    blocks, 16-32-64 channels, about 0.27 M weights), the network NeuRRAM ran on CIFAR-10 (85.7 %).
    """
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for b in range(3):
            layers.append(_basic(cin, cout, stride if b == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes)]
    return nn.Sequential(*layers)


class LSTMCell(nn.Module):
    """LSTM cell whose four gate matrices are one ``nn.Linear`` on [x, h] (so it maps onto cores);
    the recurrence (sigmoids, tanh, cell state) is digital, as on NeuRRAM.
    """

    def __init__(self, n_in: int, n_hidden: int):
        super().__init__()
        self.n_hidden = n_hidden
        self.gates = nn.Linear(n_in + n_hidden, 4 * n_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run over time: x (N, features, time) -> last hidden state (N, hidden)."""
        h = x.new_zeros(x.shape[0], self.n_hidden)
        c = torch.zeros_like(h)
        for t in range(x.shape[2]):
            i, f, g, o = self.gates(torch.cat([x[:, :, t], h], 1)).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return h


class KWSLSTM(nn.Module):
    """NeuRRAM's keyword-spotting network: 4 parallel LSTM cells of 108 hidden units on 40 MFCCs,
    their last hidden states concatenated into a linear classifier (12 classes).
    """

    def __init__(self, classes: int = 12, n_in: int = 40, n_hidden: int = 108, cells: int = 4):
        super().__init__()
        self.cells = nn.ModuleList(LSTMCell(n_in, n_hidden) for _ in range(cells))
        self.fc = nn.Linear(cells * n_hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.fc(torch.cat([cell(x) for cell in self.cells], 1))


def kws_lstm(classes: int = 12) -> nn.Module:
    """The keyword-spotting LSTM for (40 MFCC, 51 frames) inputs."""
    return KWSLSTM(classes)


def resnet50(classes: int = 1000) -> nn.Module:
    """ResNet-50 (He et al. 2016; bottleneck stages 3-4-6-3, 25.6 M weights at 1000 classes) for 3x224x224."""
    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
    ]  # fmt: skip
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            layers.append(_bottleneck(cin, width, stride if b == 0 else 1))
            cin = 4 * width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


MODELS: dict[str, tuple[Callable[..., nn.Module], tuple[int, ...]]] = {
    "fashion_cnn": (fashion_cnn, (1, 28, 28)),
    "neurram_mnist_cnn": (neurram_mnist_cnn, (1, 28, 28)),
    "mlp": (mlp, (1, 28, 28)),
    "lenet5": (lenet5, (1, 28, 28)),
    "resnet_small": (resnet_small, (3, 32, 32)),
    "resnet20": (resnet20, (3, 32, 32)),
    "kws_lstm": (kws_lstm, (40, 51)),
    "resnet50": (resnet50, (3, 224, 224)),
}


def build(name: str, classes: int = 10) -> tuple[nn.Module, tuple[int, ...]]:
    """A zoo model by name and its input shape (C, H, W)."""
    if name not in MODELS:
        raise ValueError(f"model = {name!r} is unknown: allowed is one of {', '.join(MODELS)}")
    factory, shape = MODELS[name]
    return factory(classes), shape
