"""Training loops (float now; hardware-aware and on-chip training build on these)."""

from reram.train.chip_loop import monte_carlo, progressive_finetune
from reram.train.faults import fault_aware_finetune, realised_weights
from reram.train.hwa import FakeQuant, HWAConfig, prepare_hwa, set_noise_epoch, ste_round, strip_hwa
from reram.train.loops import evaluate, fit

__all__ = [
    "FakeQuant",
    "HWAConfig",
    "evaluate",
    "fault_aware_finetune",
    "fit",
    "monte_carlo",
    "prepare_hwa",
    "progressive_finetune",
    "realised_weights",
    "set_noise_epoch",
    "ste_round",
    "strip_hwa",
]
