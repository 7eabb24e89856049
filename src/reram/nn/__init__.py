"""torch integration: analog layers and the module swap."""

from reram.nn.attention import AttentionProducts, LinearAttention, split_attention
from reram.nn.compensate import compensate_drift, store_drift_reference
from reram.nn.conv import AnalogConv1d, AnalogConv2d
from reram.nn.convert import (
    age,
    analog_layers,
    calibrate,
    convert,
    digital_modules,
    events,
    events_per_core,
    placement,
    program,
    read_disturb,
    read_temperature,
    reset_events,
    revert,
)
from reram.nn.layers import AnalogLayer, AnalogLinear

__all__ = [
    "AnalogConv1d",
    "AnalogConv2d",
    "AnalogLayer",
    "AnalogLinear",
    "AttentionProducts",
    "LinearAttention",
    "age",
    "analog_layers",
    "calibrate",
    "compensate_drift",
    "convert",
    "digital_modules",
    "events",
    "events_per_core",
    "placement",
    "program",
    "read_disturb",
    "read_temperature",
    "reset_events",
    "revert",
    "split_attention",
    "store_drift_reference",
]
