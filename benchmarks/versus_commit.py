"""This checkout's speed against an earlier commit's, both in one process, on this machine.

"No worse than before" compares two versions of the code, and on a shared machine whose float
baseline drifts by tens of percent between runs, separate runs cannot settle it. This script
extracts the earlier commit's package (``git archive``) under another name (``reram_before``:
its imports rewritten), loads both into one process and times float torch, the earlier code and
this checkout on the same model and inputs in alternating blocks; each figure is the median of
the blocks' ratios to float.

Variants of this checkout separate what the code costs from what physics added since costs:
``constant noise`` reads with the first read-noise model (``device.read_noise_model =
"constant"``, which the earlier figures were measured with; the preset's is ``"physical"``:
shot, thermal and 1/f noise from each cell's own conductance, a second product per read), and
``polarity`` applies signed inputs in one phase (``periphery.dac.sign = "polarity"``; the default
``"phases"`` reads a signed input twice, which on-chip transposed reads honour since the
one-pipeline redesign and the earlier code did not).

Cases: zoo models' inference (``neurram``, multi-level inputs, current sensing: as
``throughput.py``'s "multi-level" mode) and the on-chip SGD step of the MLP (``onchip``:
``hfo2``, multi-level reads, deterministic trains: as ``onchip_step.py --multi-level``).

    OMP_WAIT_POLICY=PASSIVE python benchmarks/versus_commit.py [--commit 55fd064]
        [--cases lenet5,mlp,onchip] [--repeats 20] [--json]

(the ResNet-like CNN: ``--cases resnet_small --repeats 5``, about 3 s per analog forward here)
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import reram
from onchip_step import _step_timer
from throughput import MODES

ROOT = Path(__file__).resolve().parents[1]
NAME = "reram_before"
NOW_ONLY = ("accumulate", "split_bits")  # the multi-level mode's DAC keys the earlier code lacks


def load_before(commit: str, into: Path) -> Any:
    """The package of ``commit`` imported as ``reram_before`` (its ``reram`` imports renamed)."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src/reram"], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(blob.stdout)) as tar:
        tar.extractall(into, filter="data")
    pkg = into / NAME
    (into / "src" / "reram").rename(pkg)
    word = re.compile(r"\breram\b(?=[.\s])")
    for f in pkg.rglob("*.py"):
        text = f.read_text()
        text = re.sub(r"^(\s*)import reram$", rf"\1import {NAME} as reram", text, flags=re.M)
        f.write_text(word.sub(NAME, text.replace("from reram import", f"from {NAME} import")))
    sys.path.insert(0, str(into))
    return importlib.import_module(NAME)


def _cfg(device: dict[str, Any] | None = None, now: bool = True) -> dict[str, Any]:
    """``throughput.py``'s multi-level mode (without the keys the earlier code lacks, for it)."""
    cfg = json.loads(json.dumps(MODES["multi-level"]))
    if not now:
        for key in NOW_ONLY:
            cfg["periphery"]["dac"].pop(key)
    if device:
        cfg["device"] = device
    return cfg


def _inference(before: Any, name: str) -> tuple[dict[str, Callable[[], Any]], Callable[[], Any]]:
    from reram.zoo import build

    torch.manual_seed(0)
    model, shape = build(name)
    model.eval()
    x = torch.rand(256, *shape)
    fns: dict[str, Callable[[], Any]] = {"float": lambda: model(x)}
    pairs = [("earlier commit", before, _cfg(now=False)), ("this checkout", reram, _cfg()),
             ("this checkout, constant noise", reram, _cfg({"read_noise_model": "constant"}))]  # fmt: skip
    for label, pkg, cfg in pairs:
        analog = pkg.convert(model, cfg)
        pkg.calibrate(analog, [x])
        fns[label] = lambda analog=analog: analog(x)
    return fns, torch.no_grad


def _onchip(before: Any) -> tuple[dict[str, Callable[[], Any]], Callable[[], Any]]:
    from reram.zoo import mlp

    x, y = torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,))
    torch.manual_seed(0)

    def stepper(model: torch.nn.Module, opt: torch.optim.Optimizer) -> Callable[[], float]:
        return _step_timer(model, opt, x, y, lambda: None)

    net = mlp()
    fns: dict[str, Callable[[], Any]] = {"float": stepper(net, torch.optim.SGD(net.parameters(), lr=0.1))}
    chips = [("earlier commit", before, "hfo2"),
             ("this checkout", reram, {"base": "hfo2", "periphery": {"dac": {"bit_serial": False}}}),
             ("this checkout, polarity", reram,
              {"base": "hfo2", "periphery": {"dac": {"bit_serial": False, "sign": "polarity"}}})]  # fmt: skip
    for label, pkg, cfg in chips:
        onchip, train = (
            importlib.import_module(pkg.__name__ + ".nn.onchip"),
            importlib.import_module(pkg.__name__ + ".train.onchip"),
        )
        oc = train.OnChipConfig(scheme="sgd", pulse_mode="deterministic")
        chip = onchip.to_onchip(mlp(), cfg, oc.range_factor, oc.cells_per_weight, oc.carry_base)
        fns[label] = stepper(chip, train.AnalogSGD(chip.parameters(), oc))
    return fns, torch.enable_grad


def _blocks(fns: dict[str, Callable[[], Any]], repeats: int, per_block: int) -> dict[str, list[float]]:
    """Seconds per call of each function: ``repeats`` blocks of ``per_block`` calls each, the
    functions in turn within every block (each block's median), so that a slow spell hits all."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():  # warm-up
        for _ in range(3):
            f()
    for _ in range(repeats):
        for k, f in fns.items():
            block = []
            for _ in range(per_block):
                t0 = time.perf_counter()
                f()
                block.append(time.perf_counter() - t0)
            times[k].append(statistics.median(block))
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commit", default="55fd064", help="the earlier commit (default: the last one before "
                    "the one-pipeline redesign, 2026-11-23)")  # fmt: skip
    ap.add_argument("--cases", default="lenet5,mlp,onchip", help="zoo models and/or 'onchip'")
    ap.add_argument("--repeats", type=int, default=20, help="alternating blocks")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        before = load_before(args.commit, Path(tmp))
        for case in args.cases.split(","):
            fns, grad_mode = _onchip(before) if case == "onchip" else _inference(before, case)
            with grad_mode():
                times = _blocks(fns, args.repeats, 3 if case == "onchip" else 1)
            for label in fns:
                if label == "float":
                    continue
                ratios = [a / f for a, f in zip(times[label], times["float"], strict=True)]
                q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
                rows.append({"case": case, "version": label, "ms": 1e3 * statistics.median(times[label]),
                             "float_ms": 1e3 * statistics.median(times["float"]),
                             "ratio": statistics.median(ratios), "quartiles": (q[0], q[2])})  # fmt: skip
    if args.json:
        print(json.dumps({"commit": args.commit, "threads": args.threads, "rows": rows}, indent=2))
        return
    print(f"commit {args.commit} against this checkout, {args.threads} threads, batch 256, "
          f"median of {args.repeats} alternating blocks per case")  # fmt: skip
    print("| case | version | ms | float ms | analog / float | blocks' quartiles |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['case']} | {r['version']} | {r['ms']:.1f} | {r['float_ms']:.1f} | {r['ratio']:.2f}× | "
            f"{r['quartiles'][0]:.2f}–{r['quartiles'][1]:.2f}× |"
        )


if __name__ == "__main__":
    main()
