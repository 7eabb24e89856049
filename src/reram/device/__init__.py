"""Cell physics as pure, seeded tensor functions: levels, programming, faults, relaxation, reads."""

from reram.device.disturb import disturb, disturbed_fraction, read_stress_s
from reram.device.faults import ArrayLayout, StuckMap, cell_windows, stuck_cells, stuck_map
from reram.device.program import ProgramResult, program, program_groups, program_tiles, quantize_levels, write_verify
from reram.device.relax import at_read_temperature, equivalent_time_s, relax, relaxation_sigma_S, relaxed_fraction
from reram.device.retention import bit_error_rate, level_error_rate, level_errors

__all__ = [
    "ArrayLayout",
    "ProgramResult",
    "program_groups",
    "program_tiles",
    "StuckMap",
    "at_read_temperature",
    "bit_error_rate",
    "cell_windows",
    "disturb",
    "disturbed_fraction",
    "equivalent_time_s",
    "level_error_rate",
    "level_errors",
    "program",
    "quantize_levels",
    "read_stress_s",
    "relax",
    "relaxation_sigma_S",
    "relaxed_fraction",
    "stuck_cells",
    "stuck_map",
    "write_verify",
]
