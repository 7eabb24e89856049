"""Training loops (float now; hardware-aware and on-chip training build on these)."""

from reram.train.loops import evaluate, fit

__all__ = ["evaluate", "fit"]
