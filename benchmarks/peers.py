"""Inference speed of reram against its peers, in one process, on the same models and inputs.

For an MLP 784-256-128-10, a LeNet-5-like CNN and a ResNet-like CNN (3x32x32) at batch 256:
the time of one forward of each simulator, as a ratio to float torch measured in the same
blocks (the tools run one after another inside every block, blocks alternate; median of
``--repeats`` blocks). reram runs the ``neurram`` preset (4-bit differential-pair weights on
256x256 arrays, write-verify programming, physical read noise, kT/C, ADC fixed pattern) in three
input schemes: multi-level inputs with current sensing, multi-level with voltage sensing, and
the preset as is (bit-serial planes integrated on the neuron, voltage sensing). Peers, when
installed, run what they have of the same non-idealities:

- aihwkit-lightning (``pip install aihwkit-lightning``, pure Python): 256-row tiles, 4-bit DAC,
  6-bit ADC with a bound, 2 % weight noise at inference and 1 % output noise;
- aihwkit (no cp311 wheel: ``pip install --no-binary aihwkit --no-build-isolation aihwkit`` with
  setuptools >= 77, scikit-build, pybind11, cmake, ninja, libopenblas-dev and the CPU torch
  present): ``InferenceRPUConfig`` with 256x256 tiles, 4-bit DAC, 6-bit ADC, output noise and
  its ReRAM programming/drift noise model (Wan et al. 2022) programmed and drifted to 1 s.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/peers.py [--repeats 7] [--batch 256] [--threads 2]

The script sets OMP_WAIT_POLICY=PASSIVE itself when unset (on a shared 2-core machine spinning
OpenMP threads otherwise scatter 2-thread float timings from 0.7 to 40 ms).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

import reram  # noqa: E402
from reram.zoo import build  # noqa: E402

MODELS = {"mlp": "MLP 784-256-128-10", "lenet5": "LeNet-5-like", "resnet_small": "ResNet-like 3x32x32"}
RERAM_MODES = {
    "reram multi-level, current": {
        "base": "neurram",
        "periphery": {"dac": {"bit_serial": False, "accumulate": "digital", "split_bits": 0},
                      "adc": {"sensing": "current"}},
    },
    "reram multi-level, voltage": {
        "base": "neurram", "periphery": {"dac": {"bit_serial": False, "accumulate": "digital", "split_bits": 0}},
    },
    "reram bit-serial (preset as is)": {"base": "neurram"},
}  # fmt: skip


def _reram(model: nn.Module, x: torch.Tensor) -> dict[str, nn.Module]:
    out = {}
    for name, cfg in RERAM_MODES.items():
        chip = reram.convert(model, cfg)
        reram.calibrate(chip, [x])
        out[name] = chip.eval()
    return out


def _lightning(model: nn.Module, x: torch.Tensor) -> dict[str, nn.Module]:
    try:
        from aihwkit_lightning.nn.conversion import convert_to_analog
        from aihwkit_lightning.simulator.configs import TorchInferenceRPUConfig
        from aihwkit_lightning.simulator.parameters.enums import WeightModifierType
    except ImportError:
        return {}
    rpu = TorchInferenceRPUConfig()
    rpu.forward.inp_res = 2**4 - 2
    rpu.forward.out_res = 2**6 - 2
    rpu.forward.out_bound = 10.0
    rpu.forward.out_noise = 0.01
    rpu.mapping.max_input_size = 256
    rpu.modifier.type = WeightModifierType.ADD_NORMAL
    rpu.modifier.std_dev = 0.02
    rpu.modifier.enable_during_test = True
    rpu.pre_post.input_range.enable = True
    rpu.pre_post.input_range.init_from_data = 1
    chip = convert_to_analog(_copy(model), rpu)
    chip.train()
    with torch.no_grad():
        chip(x)  # the input ranges from data
    return {"aihwkit-lightning 2.1.0": chip.eval()}


def _aihwkit(model: nn.Module, x: torch.Tensor) -> dict[str, nn.Module]:
    try:
        from aihwkit.inference.noise.reram import ReRamWan2022NoiseModel
        from aihwkit.nn.conversion import convert_to_analog
        from aihwkit.simulator.configs import InferenceRPUConfig
    except ImportError:
        return {}
    rpu = InferenceRPUConfig()
    rpu.forward.inp_res = 1 / (2**4 - 2)
    rpu.forward.out_res = 1 / (2**6 - 2)
    rpu.forward.out_noise = 0.01
    rpu.mapping.max_input_size = 256
    rpu.mapping.max_output_size = 256
    rpu.noise_model = ReRamWan2022NoiseModel()
    chip = convert_to_analog(_copy(model), rpu).eval()
    chip.program_analog_weights()
    chip.drift_analog_weights(1.0)
    import aihwkit

    return {f"aihwkit {aihwkit.__version__} ReRAM-like": chip}


def _copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model)


def _once(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, sync: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn(x)
    sync()
    return time.perf_counter() - t0


def measure(name: str, batch: int, repeats: int, dev: torch.device) -> list[dict]:
    """Rows (tool, seconds per forward, ratio to float) for one zoo model, alternating blocks."""
    torch.manual_seed(0)
    model, shape = build(name)
    model = model.to(dev).eval()
    x = torch.rand(batch, *shape, device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    tools: dict[str, nn.Module] = {"float torch": model}
    for make in (_reram, _lightning, _aihwkit):
        tools.update(make(model, x))
    times: dict[str, list[float]] = {k: [] for k in tools}
    with torch.no_grad():
        for fn in tools.values():  # warm-up
            fn(x)
        for _ in range(repeats):
            for k, fn in tools.items():
                times[k].append(_once(fn, x, sync))
    t_float = statistics.median(times["float torch"])
    return [{"model": name, "tool": k, "s_per_forward": statistics.median(v),
             "ratio_to_float": statistics.median(v) / t_float} for k, v in times.items()]  # fmt: skip


def measure_training(batch: int, repeats: int, dev: torch.device) -> list[dict]:
    """Hardware-aware training steps of the MLP (SGD, cross-entropy), alternating blocks, ratio
    to a float SGD step: reram's ``prepare_hwa`` (device levels, weight noise, DAC-quantised inputs
    for the ``neurram`` preset), aihwkit-lightning's training forward (weight noise, input and
    output quantisation), aihwkit's ``InferenceRPUConfig`` training (noise and quantisation).
    """
    from reram.train import prepare_hwa

    torch.manual_seed(0)
    model, shape = build("mlp")
    x, y = torch.rand(batch, *shape, device=dev), torch.randint(0, 10, (batch,), device=dev)
    nets: dict[str, nn.Module] = {"float torch": _copy(model).to(dev)}
    nets["reram hardware-aware (neurram)"] = prepare_hwa(_copy(model).to(dev), config="neurram")
    for make in (_lightning, _aihwkit):
        for k, m in make(_copy(model).to(dev), x).items():
            nets[k] = m
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.01) for k, m in nets.items()}

    def step(k: str) -> float:
        m, opt = nets[k].train(), opts[k]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
        sync()
        return time.perf_counter() - t0

    for k in nets:
        step(k)
    times: dict[str, list[float]] = {k: [] for k in nets}
    for _ in range(repeats):
        for k in nets:
            times[k].append(step(k))
    t_float = statistics.median(times["float torch"])
    return [{"model": "mlp (training step)", "tool": k, "s_per_forward": statistics.median(v),
             "ratio_to_float": statistics.median(v) / t_float} for k, v in times.items()]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--train", action="store_true", help="also time hardware-aware training steps of the MLP")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    rows = [r for name in args.models.split(",") if name for r in measure(name, args.batch, args.repeats, dev)]
    if args.train:
        rows += measure_training(args.batch, args.repeats, dev)
    if args.json:
        print(json.dumps({"device": str(dev), "threads": args.threads, "batch": args.batch, "rows": rows}, indent=2))
        return
    tools = list(dict.fromkeys(r["tool"] for r in rows if r["tool"] != "float torch"))
    names = list(dict.fromkeys(r["model"] for r in rows))
    print(f"device {dev}, {args.threads} threads, batch {args.batch}, median of {args.repeats} alternating blocks")
    print("| model | float ms | " + " | ".join(tools) + " |")
    print("|---|---:|" + "---:|" * len(tools))
    for n in names:
        by = {r["tool"]: r for r in rows if r["model"] == n}
        cells = [f"{by[t]['ratio_to_float']:.2f}x" if t in by else "-" for t in tools]
        print(f"| {MODELS.get(n, n)} | {by['float torch']['s_per_forward'] * 1e3:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
