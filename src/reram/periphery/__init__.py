"""Periphery: DACs drive the rows, ADCs (or integrate-and-fire neurons) digitise the columns."""

from reram.periphery.adc import adc_convert, adc_levels, max_abs, percentile_abs
from reram.periphery.dac import InputPlanes, dac_quantize, encode_inputs

__all__ = ["InputPlanes", "adc_convert", "adc_levels", "dac_quantize", "encode_inputs", "max_abs", "percentile_abs"]
