"""What the jobs run: the default job, hardware-aware training and on-chip training settings.

The tables of a run config (``[job]``, ``[hwa]``, ``[onchip]``) load through the same coercion
and checks as the system config (:mod:`reram.config.io`): every field typed, finite and inside
its range, unknown keys named with the allowed ones, before any work starts. Times in seconds,
temperatures in kelvin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reram.config.check import check, choice, fail, num
from reram.config.io import JOB_TABLES, _from_dict, read_toml, system_config
from reram.config.system import Config

PULSE_MODES = ("stochastic", "deterministic", "ideal")
SCHEMES = ("sgd", "carry", "mixed")
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


def check_device(path: str, device: str) -> None:
    """A torch device string: 'cpu', 'cuda' or 'cuda:N'."""
    if not isinstance(device, str) or not _DEVICE.match(device):
        fail(path, device, "'cpu', 'cuda' or 'cuda:N' (N a GPU index)")


@dataclass(frozen=True)
class JobConfig:
    """What ``reram run`` (and ``train``, ``irdrop``) does. Times in seconds, temperature in kelvin.

    Attributes:
        dataset, data_dir: a dataset name and, optionally, the folder its files are read from.
        model: a zoo model or ``module:factory``.
        epochs, batch_size, lr: float training.
        train_samples, test_samples: subsets (0 = all).
        calibration_samples: images that calibrate the input and ADC ranges.
        ages_s: times after programming at which the chip is evaluated (increasing).
        temperature_K: temperature of the chip while it ages.
        device: torch device.

    """

    _section = "job"
    dataset: str = "fashion-mnist"
    data_dir: str = ""
    model: str = "fashion_cnn"
    epochs: int = num(5, 1, 10_000, "epochs")
    batch_size: int = num(128, 1, 1_000_000, "samples")
    lr: float = num(3e-3, 0, 10, open_lo=True)
    train_samples: int = num(0, 0, 1_000_000_000, "samples (0 = all)")
    test_samples: int = num(0, 0, 1_000_000_000, "samples (0 = all)")
    calibration_samples: int = num(2000, 1, 1_000_000_000, "samples")
    ages_s: tuple[float, ...] = num((1.0, 86400.0), 0, 1e10, "s", open_lo=True)
    temperature_K: float = num(300.0, 1, 1000, "K")
    device: str = "cpu"

    def __post_init__(self) -> None:
        check(self)
        if not self.ages_s or list(self.ages_s) != sorted(set(self.ages_s)):
            fail("job.ages_s", self.ages_s, "a non-empty list of strictly increasing times > 0 s")
        check_device("job.device", self.device)

    @classmethod
    def quick(cls) -> JobConfig:
        """A short variant (about two minutes on 2 cores): 1 epoch on 12,000 images, 2,000 test images."""
        return cls(epochs=1, train_samples=12000, test_samples=2000, calibration_samples=1000)


@dataclass(frozen=True)
class HWAConfig:
    """Hardware-aware training settings (the ``[hwa]`` table).

    Attributes:
        noise_level: weight-noise std relative to max|W| of each layer (0 = off).
        bias_noise: also perturb biases (NeuRRAM maps biases onto array rows).
        ramp_epochs: grow the noise linearly from 0 over this many epochs (0 = full from the start).
        quantize_weights: snap weights to the device's signed levels (straight-through).
        input_bits: DAC magnitude bits for input quantisation; None = the config's, 0 = off.
        output_bits: ADC bits for output quantisation; None = off (the default), else signed bits.
        input_range: "calibrated" (running percentile of |x|) or "learned" (a trained clip range).
        percentile: |x| percentile tracked by the calibrated range.
        momentum: running-average momentum of the calibrated range.
        finetune_epochs: 0 = train with these transforms from scratch for the job's epochs;
            > 0 = start from the trained float model and fine-tune this many epochs.
        finetune_lr: peak learning rate of that fine-tuning (Adam, one-cycle).

    """

    _section = "hwa"
    noise_level: float = num(0.15, 0, 10, "x max|W|")
    bias_noise: bool = True
    ramp_epochs: int = num(0, 0, 10_000, "epochs")
    quantize_weights: bool = True
    input_bits: int | None = num(None, 0, 24, "bits")
    output_bits: int | None = num(None, 0, 24, "bits")
    input_range: str = "calibrated"
    percentile: float = num(99.99, 50, 100, "percent")
    momentum: float = num(0.9, 0, 0.999999)
    finetune_epochs: int = num(0, 0, 10_000, "epochs")
    finetune_lr: float = num(3e-4, 0, 10, open_lo=True)

    def __post_init__(self) -> None:
        check(self)
        choice(self, "input_range", ("calibrated", "learned"))


@dataclass(frozen=True)
class OnChipConfig:
    """How the chip trains (``AnalogSGD``).

    Attributes:
        scheme: "sgd", "carry" or "mixed".
        lr: learning rate (weight units per unit of the loss gradient).
        pulse_mode: "deterministic" (trains of whole pulses, implicit coincidences; the fast
            default), "stochastic" (every slot of every Bernoulli train drawn and counted: the
            exact reference, ~50x a float step on CPU) or "ideal" (expected counts) (sgd, carry).
        slots: pulse slots per sample of a train (the maximum pulses per cell per sample).
        carry_every: steps between carries (scheme "carry").
        carry_base: significance ratio F of the two cells (scheme "carry").
        carry_write: how the carry writes the more significant cell: "pulses" (open loop: the
            content as pulses, through the cell's nonlinear, noisy response) or "verify" (closed
            loop: read it, write-verify it to its value plus the carried content; the device's
            programming error remains).
        range_factor: the weight range +-range_factor * max|W_init| maps onto the window.

    """

    _section = "onchip"
    scheme: str = "sgd"
    lr: float = num(0.1, 0, 100, open_lo=True)
    pulse_mode: str = "deterministic"
    slots: int = num(31, 1, 100_000, "slots")
    carry_every: int = num(50, 1, 10_000_000, "steps")
    carry_base: float = num(8.0, 2, 1e6)
    carry_write: str = "pulses"
    range_factor: float = num(2.0, 0, 1e6, open_lo=True)

    def __post_init__(self) -> None:
        check(self)
        choice(self, "scheme", SCHEMES)
        choice(self, "pulse_mode", PULSE_MODES)
        choice(self, "carry_write", ("verify", "pulses"))

    @property
    def cells_per_weight(self) -> int:
        """Cells per weight the scheme needs."""
        return 2 if self.scheme == "carry" else 1


# (label, preset, scheme): the linear symmetric device, the two cited presets plain, and the
# nonlinear asymmetric ones with periodic carry (transfers as open-loop pulses; ":verify" by
# write-verify) and with mixed precision
DEFAULT_RUNS: tuple[tuple[str, str, str], ...] = (
    ("linear", "marinella2018", "sgd"),
    ("TaOx", "taox", "sgd"),
    ("TaOx", "taox", "carry"),
    ("TaOx", "taox", "carry:verify"),
    ("TaOx", "taox", "mixed"),
    ("HfO2", "hfo2", "sgd"),
    ("HfO2", "hfo2", "carry"),
    ("HfO2", "hfo2", "carry:verify"),
    ("HfO2", "hfo2", "mixed"),
)


def scheme_config(scheme: str, lr: float, pulse_mode: str) -> OnChipConfig:
    """``scheme`` is "sgd", "carry", "mixed", or "carry:verify" (the carry by write-verify)."""
    name, _, write = scheme.partition(":")
    return OnChipConfig(scheme=name, lr=lr, pulse_mode=pulse_mode, carry_write=write or "pulses")


@dataclass(frozen=True)
class OnChipJob:
    """What ``reram train --on-chip`` runs (model: a zoo network of Linear layers; "mlp" is sized
    to the dataset's inputs).
    """

    _section = "onchip"
    dataset: str = "fashion-mnist"
    data_dir: str = ""
    model: str = "mlp"
    epochs: int = num(10, 1, 10_000, "epochs")
    batch_size: int = num(256, 1, 1_000_000, "samples")
    lr: float = num(0.1, 0, 100, open_lo=True)
    train_samples: int = num(0, 0, 1_000_000_000, "samples (0 = all)")
    test_samples: int = num(0, 0, 1_000_000_000, "samples (0 = all)")
    seeds: int = num(3, 1, 10_000, "seeds")
    pulse_mode: str = "deterministic"
    runs: tuple[tuple[str, str, str], ...] = DEFAULT_RUNS

    def __post_init__(self) -> None:
        from reram.config.io import load_config

        check(self)
        choice(self, "pulse_mode", PULSE_MODES)
        for _, preset_name, scheme in self.runs:
            load_config(preset_name)
            scheme_config(scheme, self.lr, self.pulse_mode)

    @classmethod
    def quick(cls) -> OnChipJob:
        """A few-minute variant: 2 epochs on 12,000 images, 2 seeds."""
        return cls(epochs=2, train_samples=12000, test_samples=2000, seeds=2)


def job_tables(data: dict[str, Any], quick: bool = False) -> tuple[JobConfig, dict[str, Any], dict[str, Any]]:
    """The ``[job]`` table as a JobConfig (on the default or quick job), and the ``[hwa]`` and
    ``[onchip]`` tables as checked dicts of overrides (each key known and of its type).
    """
    base = JobConfig.quick() if quick else JobConfig()
    job = _from_dict(JobConfig, data.get("job", {}), base, "job")
    hwa = data.get("hwa", {})
    _from_dict(HWAConfig, hwa, HWAConfig(), "hwa")  # checks keys, types and ranges
    onchip = data.get("onchip", {})
    _from_dict(OnChipConfig, onchip, OnChipConfig(), "onchip")
    return job, dict(hwa), dict(onchip)


def load_job(path: str | Path | None, quick: bool = False) -> tuple[JobConfig, Config, dict[str, Any]]:
    """A run config file: its ``[job]`` table (on the default or quick job), its system config
    (``base = "neurram"`` unless it names another), and its ``[hwa]`` table (a checked dict).
    """
    if path is None:
        return (JobConfig.quick() if quick else JobConfig()), system_config({}), {}
    data = read_toml(path)
    job, hwa, _ = job_tables(data, quick)
    config = system_config({k: v for k, v in data.items() if k not in JOB_TABLES})
    return job, config, hwa


def replace_checked(obj: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` with the changes checked like a file's values (typed, named)."""
    return _from_dict(type(obj), changes, obj, getattr(obj, "_section", ""))


__all__ = [
    "DEFAULT_RUNS",
    "HWAConfig",
    "JobConfig",
    "OnChipConfig",
    "OnChipJob",
    "check_device",
    "job_tables",
    "load_job",
    "replace_checked",
    "scheme_config",
]
