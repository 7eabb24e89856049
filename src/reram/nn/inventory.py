"""What a conversion leaves digital, and why: nothing stays float without a word.

Every module that holds a weight matrix (a ``weight`` of two or more dims, an RNN's gate matrices,
an attention's packed projections) is either converted onto cores or listed here with the reason
it stays digital and its share of the model's weights; so is every module of digital products
without weights (attention's Q K^T and attention x V, :mod:`reram.nn.attention`).
:func:`reram.convert` logs one warning per module type, stores the table on the converted model
(:func:`digital_modules`) and raises with it under ``strict=True``. Modules with a fused fast
path that would read converted weights directly (``nn.TransformerEncoderLayer`` in eval mode)
have that path switched off, so the converted layers are never bypassed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn

from reram.nn.attention import AttentionProducts, rewritable

log = logging.getLogger(__name__)

SUPPORTED = (nn.Linear, nn.Conv1d, nn.Conv2d)


@dataclass(frozen=True)
class DigitalModule:
    """One module that runs on the digital side.

    Attributes:
        name: module name in the model ("" for the model itself).
        type: its class name.
        reason: why it is not on cores.
        weights: its matrix weights (elements).
        share: its share of all the model's matrix weights.

    """

    name: str
    type: str
    reason: str
    weights: int
    share: float

    def as_dict(self) -> dict[str, object]:
        """A plain row for reports."""
        return {"name": self.name, "type": self.type, "reason": self.reason, "weights": self.weights,
                "share_of_weights": self.share}  # fmt: skip


def matrix_weights(m: nn.Module) -> int:
    """Elements of the module's own weight matrices (not its children's; biases and norms excluded)."""
    return sum(p.numel() for p in m.parameters(recurse=False) if p.dim() >= 2)


def why_digital(m: nn.Module) -> str | None:
    """The reason a weight-holding module cannot run on cores, or None if it can."""
    if type(m) in SUPPORTED:
        if isinstance(m, (nn.Conv1d, nn.Conv2d)) and m.groups != 1:
            return f"grouped convolution (groups={m.groups}): not mapped onto arrays"
        if isinstance(m, (nn.Conv1d, nn.Conv2d)) and m.padding_mode != "zeros":
            return f"padding_mode={m.padding_mode!r}: only zero padding is mapped"
        return None
    if isinstance(m, AttentionProducts):
        return "activation x activation products (Q K^T, softmax, attention x V): digital, K and V from SRAM"
    if isinstance(m, nn.MultiheadAttention):
        if not rewritable(m):
            return "nn.MultiheadAttention with add_bias_kv / add_zero_attn: not rewritten with nn.Linear projections"
        return "nn.MultiheadAttention as the model itself: wrap it in a module so that convert can rewrite it"
    if isinstance(m, nn.RNNBase):
        return f"{type(m).__name__}: recurrent gate matrices are not mapped (write the gates with nn.Linear)"
    if isinstance(m, nn.Embedding | nn.EmbeddingBag):
        return "embedding: a table lookup, no matrix-vector product"
    if isinstance(m, nn.modules.conv._ConvTransposeNd):
        return f"{type(m).__name__}: transposed convolutions are not mapped"
    if isinstance(m, nn.modules.conv._ConvNd):
        return f"{type(m).__name__}: only Conv1d and Conv2d are mapped"
    if isinstance(m, SUPPORTED):
        return f"subclass {type(m).__name__} of {type(m).__mro__[1].__name__}: only the exact torch classes are mapped"
    return "no analog counterpart"


def inventory(
    model: nn.Module, converted: set[str], filtered: set[str], inside_digital: dict[str, str]
) -> list[DigitalModule]:
    """The weight-holding modules of ``model`` that were not converted, with the reason.

    Args:
        model: the model as converted.
        converted: names of the modules put on cores.
        filtered: names the caller's filter_fn declined.
        inside_digital: names of modules whose weights a digital parent reads directly -> parent name.

    """
    total = sum(matrix_weights(m) for m in model.modules()) or 1
    rows = []
    for name, m in model.named_modules():
        w = matrix_weights(m)
        if not (w or digital_work(m)) or name in converted:
            continue
        if name in inside_digital:
            reason = f"inside {inside_digital[name]!r}, which reads its weight directly"
        elif name in filtered:
            reason = "declined by filter_fn"
        else:
            reason = why_digital(m) or "not converted"
        rows.append(DigitalModule(name, type(m).__name__, reason, w, w / total))
    return rows


def digital_work(m: nn.Module) -> bool:
    """True for a weightless module whose products the digital side computes (attention's)."""
    return isinstance(m, AttentionProducts)


def digital_parents(model: nn.Module) -> dict[str, str]:
    """Modules whose weights their parent reads without calling them (MHA's out_proj) -> parent."""
    out: dict[str, str] = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.MultiheadAttention):
            for child, _ in m.named_modules():
                if child:
                    out[f"{name}.{child}" if name else child] = name
    return out


def disable_fast_paths(model: nn.Module) -> list[str]:
    """Switch off fused fast paths that would read converted weights directly; returns their names.

    ``nn.TransformerEncoderLayer`` (and ``nn.TransformerEncoder`` through its first layer) runs a
    fused kernel in eval mode under ``no_grad`` that reads ``linear1.weight`` etc. itself; its
    ``activation_relu_or_gelu`` flag gates that path.
    """
    names = []
    for name, m in model.named_modules():
        if isinstance(m, nn.TransformerEncoderLayer):
            m.activation_relu_or_gelu = 0
            names.append(name)
    return names


def report(rows: list[DigitalModule]) -> None:
    """Log one warning per module type left digital."""
    seen: dict[str, list[DigitalModule]] = {}
    for r in rows:
        seen.setdefault(r.type, []).append(r)
    for kind, items in seen.items():
        share = sum(r.share for r in items)
        names = ", ".join(repr(r.name) for r in items[:4]) + (" ..." if len(items) > 4 else "")
        log.warning("%d %s module(s) stay digital (%.1f%% of the weights): %s: %s", len(items), kind,
                    100 * share, names, items[0].reason)  # fmt: skip


def table(rows: list[DigitalModule]) -> str:
    """The rows as a text table (for errors and logs)."""
    lines = [f"  {r.name or '(model)'} ({r.type}, {r.weights} weights, {r.share:.1%}): {r.reason}" for r in rows]
    return "\n".join(lines)


def digital_macs(m: nn.Module, args: tuple, out: object) -> float:
    """Multiply-accumulates of one call of a weight-holding module that runs digitally (from its
    input and output shapes): what the cost model prices as digital work.
    """
    x = args[0] if args else None
    y = out[0] if isinstance(out, tuple) else out
    if isinstance(m, AttentionProducts):
        return AttentionProducts.macs(args[0], args[1])
    if isinstance(m, nn.MultiheadAttention):
        q = x  # (L, N, E) or (N, L, E): projections of q, k, v and out per token, then QK^T and AV
        k = args[1] if len(args) > 1 else x
        e = m.embed_dim
        tokens_q, tokens_k = q.numel() / e, k.numel() / k.shape[-1]  # type: ignore[union-attr]
        seq_q = q.shape[1] if m.batch_first else q.shape[0]  # type: ignore[union-attr]
        kdim = m.kdim if m.kdim is not None else e
        vdim = m.vdim if m.vdim is not None else e
        return float(tokens_q * e * e + tokens_k * (kdim + vdim) * e + tokens_q * e * e + 2 * tokens_q * seq_q * e)
    if isinstance(m, nn.RNNBase):
        gates = {"LSTM": 4, "GRU": 3}.get(m.mode, 1)
        steps = x.numel() / m.input_size  # type: ignore[union-attr]  # tokens (time x batch)
        dirs = 2 if m.bidirectional else 1
        total, inp = 0.0, m.input_size
        for _ in range(m.num_layers):
            total += dirs * steps * gates * m.hidden_size * (inp + m.hidden_size)
            inp = m.hidden_size * dirs
        return float(total)
    if isinstance(m, nn.modules.conv._ConvTransposeNd):
        k = int(torch.tensor(m.kernel_size).prod())
        return float(x.numel() * m.out_channels // m.groups * k)  # type: ignore[union-attr]
    if isinstance(m, nn.modules.conv._ConvNd):
        k = int(torch.tensor(m.kernel_size).prod())
        return float(y.numel() * m.in_channels // m.groups * k)  # type: ignore[union-attr]
    if isinstance(m, nn.Linear):
        return float(y.numel() * m.in_features)  # type: ignore[union-attr]
    return 0.0  # lookups (embeddings): no products
