"""The periphery of the simulated system: input DACs (pulse planes, sign scheme, the neuron's
integration) and the sensing and ADCs (full scale, bits, noise and mismatch).

SI units inside; every numeric field declares its physical range (``reram.config.check.num``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reram.config.check import check, choice, fail, num


@dataclass(frozen=True)
class DACConfig:
    """Input drivers and the input scheme.

    Attributes:
        bits: input bits. With ``sign = "phases"`` the magnitude bits of each phase (signed
            inputs add a second phase, no bit); with ``"polarity"`` the bits of a signed input,
            sign included (magnitude bits max(1, bits - 1), as NeuRRAM counts them).
        bit_serial: apply one binary pulse plane per magnitude bit; otherwise one multi-level
            pulse per input.
        percentile: |x| percentile set as the input full scale at calibration.
        sign: "phases" (positive and negative inputs in two phases, each read and converted) or
            "polarity" (the sign sets the pulse polarity, V_ref +- V_read, in one phase:
            NeuRRAM's drivers).
        accumulate: how bit-serial planes combine: "digital" (each plane converted, shift-added)
            or "analog" (the neuron integrates bit j for 2**j timesteps on its capacitor and
            converts once per slice: NeuRRAM's scheme; needs ``bit_serial``).
        split_bits: with analog accumulation, inputs of at least this many ``bits`` are
            integrated in two slices (high and low magnitude bits), each converted and the
            two shift-added (NeuRRAM's two-phase mode, from 5 bits); 0 = always one slice.

    """

    _section = "periphery.dac"
    bits: int = num(8, 1, 24, "bits")
    bit_serial: bool = False
    percentile: float = num(99.99, 50, 100, "percent")
    sign: str = "phases"
    accumulate: str = "digital"
    split_bits: int = num(0, 0, 24, "bits")

    def __post_init__(self) -> None:
        check(self)
        if not isinstance(self.bit_serial, bool):
            fail("periphery.dac.bit_serial", self.bit_serial, "true or false")
        choice(self, "sign", ("phases", "polarity"))
        choice(self, "accumulate", ("digital", "analog"))
        if self.accumulate == "analog" and not self.bit_serial:
            fail("periphery.dac.accumulate", "analog", '"digital" unless periphery.dac.bit_serial = true')
        if self.split_bits and self.accumulate != "analog":
            fail("periphery.dac.split_bits", self.split_bits, '0 unless periphery.dac.accumulate = "analog"')
        if self.split_bits == 1:
            fail("periphery.dac.split_bits", 1, "0 (one slice) or >= 2")

    @property
    def magnitude_bits(self) -> int:
        """Bits of an input's magnitude: codes 0 .. 2**magnitude_bits - 1 per sign."""
        return self.bits if self.sign == "phases" else max(1, self.bits - 1)


@dataclass(frozen=True)
class ADCConfig:
    """Output converters (ADC, or NeuRRAM's integrate-and-fire neuron).

    Attributes:
        bits: signed output bits (levels +-(2**(bits-1) - 1)).
        sensing: "current" (column current integrated) or "voltage" (floating bit line settles
            to sum(V G) / sum(G), NeuRRAM).
        range: "column" (full scale per column) or "layer" (one full scale per tile stack).
        percentile: |output| percentile set as full scale at calibration; before calibration the
            full scale is the worst-case bound, so nothing clips.
        offset_sigma_lsb: per-converter input-referred offset, fixed pattern, std in LSB.
        gain_sigma: per-converter relative gain error, fixed pattern, std.
        inl_lsb: integral nonlinearity, the largest deviation of a cubic bow from the ideal
            transfer (LSB; below (2**(bits-1) - 1) / sqrt(27) the transfer stays monotone).
        correction: digital correction of the measured mismatch after conversion: "none",
            "offset", or "offset_gain" (the fixed pattern measured once, e.g. with known inputs).
        sample_cap_F: the converter's (the neuron's) sampling capacitor (farads): kT/C noise on
            every sample with ``device.read_noise_model = "physical"``, and the C V_dd^2 each
            sample switches in the cost model; 0 = none.
        noise_lsb: the comparator's input-referred noise, rms in LSB, on every conversion.
        dnl_lsb: differential nonlinearity, the std of each code's width error (LSB), a fixed
            pattern per converter (seeded; the transitions' cumulative error end-point corrected,
            so the INL it adds is pure DNL); not removed by ``correction``.

    """

    _section = "periphery.adc"
    bits: int = num(8, 2, 24, "bits")
    sensing: str = "current"
    range: str = "layer"
    percentile: float = num(99.99, 50, 100, "percent")
    offset_sigma_lsb: float = num(0.0, 0, 64, "LSB")
    gain_sigma: float = num(0.0, 0, 0.5)
    inl_lsb: float = num(0.0, 0, 64, "LSB")
    correction: str = "none"
    sample_cap_F: float = num(0.0, 0, 1e-9, "F")
    noise_lsb: float = num(0.0, 0, 16, "LSB")
    dnl_lsb: float = num(0.0, 0, 0.5, "LSB")

    def __post_init__(self) -> None:
        check(self)
        choice(self, "sensing", ("current", "voltage"))
        choice(self, "range", ("layer", "column"))
        choice(self, "correction", ("none", "offset", "offset_gain"))
        if self.inl_lsb >= 2 ** (self.bits - 1) / 3:
            fail(
                "periphery.adc.inl_lsb",
                self.inl_lsb,
                f"LSB < 2**(bits-1) / 3 = {2 ** (self.bits - 1) / 3:g} (monotone)",
            )


@dataclass(frozen=True)
class PeripheryConfig:
    """DAC and ADC of a core."""

    _section = "periphery"
    dac: DACConfig = field(default_factory=DACConfig)
    adc: ADCConfig = field(default_factory=ADCConfig)
