"""reram: simulate ReRAM compute-in-memory chips running PyTorch networks, accuracy and events in one run.

import reram
analog = reram.convert(model, "neurram")
reram.calibrate(analog, [x_cal])
analog.program(); analog.age(86400)
y = analog(x)
"""

from reram.config import Config, ConfigError, available_presets, load_config, override, preset
from reram.events import EventCounts
from reram.mapping import MappingError, Placement
from reram.nn import (
    age,
    analog_layers,
    calibrate,
    compensate_drift,
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
    store_drift_reference,
)

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "EventCounts",
    "MappingError",
    "Placement",
    "age",
    "analog_layers",
    "available_presets",
    "calibrate",
    "compensate_drift",
    "convert",
    "digital_modules",
    "events",
    "events_per_core",
    "load_config",
    "override",
    "placement",
    "preset",
    "program",
    "read_disturb",
    "read_temperature",
    "reset_events",
    "revert",
    "store_drift_reference",
]
