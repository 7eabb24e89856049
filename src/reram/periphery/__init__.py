"""Periphery: DACs drive the rows, ADCs (or integrate-and-fire neurons) digitise the columns."""

from reram.periphery.adc import adc_convert, adc_levels, percentile_abs
from reram.periphery.dac import InputPlanes, encode_inputs

__all__ = ["InputPlanes", "adc_convert", "adc_levels", "encode_inputs", "percentile_abs"]
