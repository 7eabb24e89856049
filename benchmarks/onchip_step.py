"""One on-chip training step of the MLP (784-256-128-10, batch 256) against a float SGD step.

Float: ``torch.optim.SGD`` on the float MLP (forward, backward, update), timed in blocks that
alternate with the analog case's (the ratio is the median of the blocks' ratios). Analog: the same MLP
after ``to_onchip`` with ``AnalogSGD``: DAC/ADC-quantised forward and transposed reads with read
noise, the outer-product update by pulse coincidence and the device's response, for each pulse
mode and scheme. Median of repeated steps, measured in the same process; ratio = analog / float.

    python benchmarks/onchip_step.py [--threads 2] [--repeats 30] [--device cpu|cuda] [--preset hfo2] [--multi-level]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def _step_timer(model, opt, x, y, sync):  # type: ignore[no-untyped-def]
    def step() -> float:
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        sync()
        return time.perf_counter() - t

    return step


def _paired(float_step, analog_step, repeats: int, block: int = 5) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Blocks of ``block`` float steps and ``block`` analog steps, alternating (each block's first
    step, which refills the caches, dropped): (median float s, median analog s, median of the
    blocks' ratios), so that a slow spell of a shared machine hits both sides alike.
    """
    f_all, a_all, ratios = [], [], []
    for _ in range(max(1, repeats // (block - 1))):
        f = [float_step() for _ in range(block)][1:]
        a = [analog_step() for _ in range(block)][1:]
        f_all += f
        a_all += a
        ratios.append(statistics.median(a) / statistics.median(f))
    return statistics.median(f_all), statistics.median(a_all), statistics.median(ratios)


def main() -> None:
    from reram.nn.onchip import to_onchip
    from reram.train.onchip import AnalogSGD, OnChipConfig
    from reram.zoo import mlp

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--preset", default="hfo2")
    ap.add_argument("--multi-level", action="store_true",
                    help="apply each input as one multi-level pulse (periphery.dac.bit_serial = false) "
                         "instead of the preset's bit-serial planes")  # fmt: skip
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    chip_cfg: object = a.preset
    if a.multi_level:
        chip_cfg = {"base": a.preset, "periphery": {"dac": {"bit_serial": False}}}
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    x, y = torch.rand(a.batch, 1, 28, 28, device=dev), torch.randint(0, 10, (a.batch,), device=dev)
    torch.manual_seed(0)
    net = mlp().to(dev)
    float_step = _step_timer(net, torch.optim.SGD(net.parameters(), lr=0.1), x, y, sync)
    rows = []
    for mode in ("deterministic", "stochastic", "ideal"):
        for scheme in ("sgd", "carry", "mixed"):
            if scheme == "mixed" and mode != "deterministic":
                continue  # mixed precision sends whole pulses from its accumulator: no trains
            oc = OnChipConfig(scheme=scheme, pulse_mode=mode)
            chip = to_onchip(mlp(), chip_cfg, oc.range_factor, oc.cells_per_weight, oc.carry_base).to(dev)
            analog_step = _step_timer(chip, AnalogSGD(chip.parameters(), oc), x, y, sync)
            for _ in range(3):  # warm-up
                float_step(), analog_step()
            reps = a.repeats if mode != "stochastic" else max(4, a.repeats // 5)
            t_f, t_a, ratio = _paired(float_step, analog_step, reps)
            label = f"analog {scheme}" + ("" if scheme == "mixed" else f", {mode} trains")
            rows.append({"case": label, "ms": 1e3 * t_a, "float_ms": 1e3 * t_f, "ratio": ratio})
    if a.json:
        print(json.dumps({"device": str(dev), "threads": a.threads, "batch": a.batch, "rows": rows}, indent=2))
        return
    inputs = "multi-level inputs" if a.multi_level else "the preset's inputs"
    print(f"MLP 784-256-128-10, batch {a.batch}, {a.device}, {a.threads} threads, preset {a.preset}, {inputs}")
    print(f"{'case':44s} {'ms/step':>9s} {'float ms':>9s} {'x float':>8s}")
    for r in rows:
        print(f"{r['case']:44s} {r['ms']:9.2f} {r['float_ms']:9.2f} {r['ratio']:8.1f}")


if __name__ == "__main__":
    main()
