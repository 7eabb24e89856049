"""Bad input, counted: how many generated bad configs, argument sets and damaged data folders get a
clean one-line error, a traceback, or are silently accepted.

    python benchmarks/robustness.py [--configs 427] [--seed 0]

A config "silently accepted" is one that loads although a field holds a non-finite or
out-of-range value (the fuzz also draws values that are fine; those count as "valid"). The
argument sets and data folders are those of ``tests/test_fuzz.py`` and ``tests/test_data.py``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from typer.testing import CliRunner  # noqa: E402

from reram.cli import app  # noqa: E402
from reram.config import ConfigError, load_config  # noqa: E402
from reram.data import DatasetError, DatasetMissing, load_dataset  # noqa: E402
from test_data import DAMAGE, _damage, _fake_idx_folder  # noqa: E402
from test_fuzz import LEAVES, _bad_cli_args, _finite_everywhere, _nest  # noqa: E402

BAD = [math.nan, math.inf, -math.inf, 1e300, -1e300, -1, -1.5, 0, 2**62, 1e-300, True, "big", "", [], {"a": 1}]


def configs(n: int, rng: random.Random) -> dict[str, int]:
    out = {"tried": 0, "clean error": 0, "traceback": 0, "valid": 0, "silently accepted": 0}
    for _ in range(n):
        path, _ = rng.choice(LEAVES)
        value = rng.choice(BAD + [rng.uniform(-1e3, 1e3), rng.randint(-(10**6), 10**6)])
        out["tried"] += 1
        try:
            cfg = load_config({"base": rng.choice(["neurram", "ideal"]), **_nest(path, value)})
        except ConfigError as err:
            out["clean error" if path.rpartition(".")[2] in str(err) else "traceback"] += 1
            continue
        except Exception:  # noqa: BLE001 - what we count
            out["traceback"] += 1
            continue
        out["valid" if _finite_everywhere(cfg) else "silently accepted"] += 1
    return out


def cli(tmp: Path) -> dict[str, int]:
    runner = CliRunner()
    out = {"tried": 0, "clean error": 0, "traceback": 0, "silently accepted": 0}
    for args in _bad_cli_args(tmp):
        r = runner.invoke(app, args)
        out["tried"] += 1
        if r.exit_code == 2 and (r.exception is None or isinstance(r.exception, SystemExit)):
            out["clean error"] += 1
        elif r.exit_code == 0:
            out["silently accepted"] += 1
        else:
            out["traceback"] += 1
            traceback.print_exception(r.exception)
    return out


def data(tmp: Path) -> dict[str, int]:
    out = {"tried": 0, "clean error": 0, "traceback": 0, "silently accepted": 0}
    for case in DAMAGE:
        d = tmp / case.replace(" ", "_")
        d.mkdir()
        _fake_idx_folder(d)
        _damage(d, case)
        out["tried"] += 1
        try:
            load_dataset("fashion-mnist", d)
            out["silently accepted"] += 1
        except (DatasetError, DatasetMissing):
            out["clean error"] += 1
        except Exception:  # noqa: BLE001
            out["traceback"] += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=427)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as t:
        os.chdir(t)  # the commands' default output folders land here
        rows = {"configs": configs(args.configs, rng), "CLI argument sets": cli(Path(t)), "damaged data": data(Path(t))}
    print("| input | tried | clean error | traceback | silently accepted | valid |\n|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['tried']} | {r['clean error']} | {r['traceback']} | {r['silently accepted']} | "
              f"{r.get('valid', '-')} |")  # fmt: skip


if __name__ == "__main__":
    main()
