"""On-chip training against wire resistance: the MLP on Fashion-MNIST, per ohms per wire segment.

Every run starts from the same weights and data order; the chip's reads see each array's
resistor network (first order, ``array.ir_drop = "approx"``) and its update pulses arrive
weakened along the lines (``reram.array.onchip_wires``). Prints final test accuracy per
resistance and the mean update efficiency (fraction of a full step) of the first layer.

    python benchmarks/onchip_wires.py [--preset marinella2018] [--scheme sgd] [--ohms 0,0.1,0.3,1]
        [--epochs 3] [--train 12000] [--test 2000] [--json]
"""

from __future__ import annotations

import argparse
import json

import torch


def main() -> None:
    from reram.array.onchip_wires import update_efficiency
    from reram.config import load_config, override
    from reram.data import load_dataset
    from reram.nn.onchip import onchip_layers, to_onchip
    from reram.train import evaluate
    from reram.train.onchip import AnalogSGD, OnChipConfig
    from reram.zoo import mlp

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="marinella2018")
    ap.add_argument("--scheme", default="sgd")
    ap.add_argument("--ohms", default="0,0.1,0.3,1")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train", type=int, default=12000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    data = load_dataset("fashion-mnist").subset(a.train, a.test)
    rows = []
    for ohms in (float(v) for v in a.ohms.split(",")):
        cfg = override(load_config(a.preset), {"array": {"ir_drop": "approx", "r_wire_ohm": ohms}})
        torch.manual_seed(0)
        oc = OnChipConfig(scheme=a.scheme, lr=a.lr)
        chip = to_onchip(mlp(), cfg, oc.range_factor, oc.cells_per_weight, oc.carry_base)
        opt = AnalogSGD(chip.parameters(), oc)
        gen = torch.Generator().manual_seed(0)
        n = len(data.y_train)
        for _ in range(a.epochs):
            chip.train()
            for idx in torch.randperm(n, generator=gen).split(256):
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(chip(data.x_train[idx]), data.y_train[idx]).backward()
                opt.step()
        first = onchip_layers(chip)[0]
        rate = torch.full((first.in_features,), 0.5), torch.full((first.out_features,), 0.5)
        eff = update_efficiency(first.conductances_S(), len(first.cells) - 1, *rate, cfg)
        acc = evaluate(chip, data.x_test, data.y_test)
        rows.append({"r_wire_ohm": ohms, "accuracy_pct": acc, "update_efficiency_mean": float(eff.mean()),
                     "update_efficiency_min": float(eff.min())})  # fmt: skip
        if not a.json:
            r = rows[-1]
            print(f"{ohms:6.2f} ohm  accuracy {r['accuracy_pct']:6.2f} %  update efficiency "
                  f"mean {r['update_efficiency_mean']:.3f} min {r['update_efficiency_min']:.3f}")  # fmt: skip
    if a.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
