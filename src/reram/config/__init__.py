"""Configuration: frozen nested dataclasses, validated at the boundary, stored as TOML.

- :mod:`reram.config.system`: the simulated chip (device, array, chip; :mod:`reram.config.periphery`:
  DACs, ADCs; :mod:`reram.config.cost`: the cost model);
- :mod:`reram.config.jobs`: what the jobs run (``[job]``, ``[hwa]``, ``[onchip]`` tables);
- :mod:`reram.config.io`: presets, files and dicts, one loader for every table;
- :mod:`reram.config.check`: every field's type and physical range, and the errors that name
  field, value and what is allowed.
"""

from reram.config.check import ConfigError
from reram.config.io import available_presets, load_config, override, preset, read_toml
from reram.config.jobs import HWAConfig, JobConfig, OnChipConfig, OnChipJob, job_tables, load_job
from reram.config.periphery import ADCConfig, DACConfig, PeripheryConfig
from reram.config.system import (
    NEURRAM_RELAX_TIMES_S,
    ArrayConfig,
    ChipConfig,
    Config,
    CostConfig,
    DeviceConfig,
    NEURRAM_RELAX_POLY_uS,
    UpdateConfig,
)

__all__ = [
    "ADCConfig",
    "ArrayConfig",
    "ChipConfig",
    "Config",
    "ConfigError",
    "CostConfig",
    "DACConfig",
    "DeviceConfig",
    "HWAConfig",
    "JobConfig",
    "NEURRAM_RELAX_POLY_uS",
    "NEURRAM_RELAX_TIMES_S",
    "OnChipConfig",
    "OnChipJob",
    "PeripheryConfig",
    "UpdateConfig",
    "available_presets",
    "job_tables",
    "load_config",
    "load_job",
    "override",
    "preset",
    "read_toml",
]
