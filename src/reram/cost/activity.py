"""Activity estimated from the model itself, for the analytic cost path.

The analytic cost needs each layer's activity: input planes per vector (one sign phase or two,
bit planes), the share of row slots that carry a pulse and the mean squared pulse amplitude.
:func:`estimate_profile` runs the float model on a few inputs (given ones, or generated: uniform
in [0, 1], like images) and encodes each analog layer's inputs with the chip's DAC
(``periphery.dac``: bits, bit-serial, the percentile full scale), which gives exactly the
counts a simulated read of those inputs would make. :func:`activity_spread` repeats it on a
second input family (Gaussian, signed) to say how much the figure depends on the inputs.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from reram.config import Config
from reram.cost.workload import LayerProfile
from reram.nn.convert import supported
from reram.periphery import encode_inputs, percentile_abs


def estimate_profile(
    model: nn.Module, config: Config, input_shape: tuple[int, ...], inputs: torch.Tensor | None = None,
    samples: int = 8, seed: int = 0, signed: bool = False,
) -> dict[str, LayerProfile]:  # fmt: skip
    """Per analog layer: the activity of its inputs as the chip's DAC would drive them.

    Args:
        model: the float model (a copy is run in eval mode, without gradients).
        config: the chip (DAC bits, bit-serial, percentile, read voltage).
        input_shape: one sample's shape.
        inputs: inputs to use; default ``samples`` generated ones.
        samples, seed: how many inputs to generate, seeded.
        signed: generate N(0, 1) inputs instead of U[0, 1).

    """
    gen = torch.Generator().manual_seed(seed)
    p = next(model.parameters())
    if inputs is None:
        draw = torch.randn if signed else torch.rand
        inputs = draw((samples, *input_shape), generator=gen).to(p.dtype)
    m = copy.deepcopy(model).eval().to(p.device)
    dac, v_read = config.periphery.dac, config.array.v_read_V
    found: dict[str, LayerProfile] = {}
    hooks = []
    for name, mod in m.named_modules():
        if not supported(mod):
            continue

        def hook(module: nn.Module, args: tuple[torch.Tensor, ...], name: str = name) -> None:
            x = args[0].detach()
            if isinstance(module, nn.modules.conv._ConvNd):  # the rows a conv tile sees: unfolded windows
                x = _windows(module, x)
            x_range = percentile_abs(x.reshape(1, -1), dac.percentile)[0].clamp_min(1e-30)
            planes = encode_inputs(x, x_range, dac, v_read)
            v = planes.planes
            slots = v[0].numel() * len(planes.weights)
            density = float((v != 0).sum()) / slots
            v0 = config.device.iv_v0_V  # a cell dissipates V I / G = V v0 sinh(V / v0) (V^2 when ohmic)
            vi = v * v if v0 == 0 else v * v0 * torch.sinh(v / v0)
            energy = float(vi.sum()) / (v_read * config.device.drive_V(v_read)) / slots
            found[name] = LayerProfile(float(len(planes.weights)), density, energy, float(planes.conversions),
                                       float(planes.timesteps))  # fmt: skip

        hooks.append(mod.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            m(inputs.to(p.device))
    except Exception as err:  # a shape the model does not take: the caller's error, named
        raise ValueError(f"input_shape = {tuple(input_shape)!r} does not fit the model: {err}") from err
    finally:
        for h in hooks:
            h.remove()
    return found


def _windows(conv: nn.modules.conv._ConvNd, x: torch.Tensor) -> torch.Tensor:
    """The input windows a convolution's rows see (a sample of positions when large)."""
    if x.dim() != 4:
        return x
    pad = conv.padding if not isinstance(conv.padding, str) else 0
    cols = nn.functional.unfold(x, conv.kernel_size, conv.dilation, pad, conv.stride)  # type: ignore[arg-type]
    return cols[..., :: max(1, cols.shape[-1] // 256)]


def activity_spread(
    model: nn.Module, config: Config, input_shape: tuple[int, ...], samples: int = 8
) -> tuple[dict[str, LayerProfile], dict[str, LayerProfile]]:
    """The activity on image-like inputs (U[0, 1)) and on signed Gaussian ones: the figure's
    dependence on what the model is given.
    """
    return (estimate_profile(model, config, input_shape, samples=samples),
            estimate_profile(model, config, input_shape, samples=samples, signed=True))  # fmt: skip
