"""What the cost model needs beyond the simulated circuit: areas, word lines, the converters'
circuits and timing, buffers, the digital baselines (per-node constants: ``reram/cost/nodes``).
"""

from __future__ import annotations

from dataclasses import dataclass

from reram.config.check import check, choice, fail, num


@dataclass(frozen=True)
class CostConfig:
    """Circuit choices the cost model needs beyond the array (per-node constants live in
    ``reram/cost/nodes``).

    Attributes:
        cell_area_F2: area of one 1T1R cell in F^2 (sets the line pitch, hence line capacitance).
        wl_voltage_V: word-line high level that turns the access transistors on (volts).
        wl_low_V: word-line low level between pulses (volts); a toggle draws
            C_wl (wl_voltage_V - wl_low_V) wl_voltage_V from the supply.
        access_gate_F: gate capacitance of one access transistor on a word line (farads).
        wl_switching: "pulsed" (a word line toggles for the slots that carry a pulse: the inputs
            gate the word lines) or "every_plane" (every word line toggles once per input plane;
            the inputs ride on the bit/source lines: NeuRRAM).
        adc: "sar" (successive approximation, ``bits`` clock cycles, energy at the ENOB) or
            "integrate_fire" (NeuRRAM's neuron: sample-and-integrate steps on a capacitor, then a
            conversion of ``bits`` charge-decrement steps, one comparator decision each).
        adc_enob_loss_bits: a SAR ADC's effective bits below its nominal bits (noise, distortion):
            its energy follows the survey fit at ENOB = bits - adc_enob_loss_bits.
        neuron_cap_F: capacitance one charge-decrement step of the neuron switches (farads).
        neuron_bias_A: static current of one neuron (integrator and comparator amplifiers,
            control) while it works (amperes): energy I V_dd over its sampling and conversion
            time, the per-operation floor that dominates at every precision.
        neuron_vdd_V: the neuron's supply (volts); 0 = the node's core supply.
        sample_cycles: clock cycles of one sample-and-integrate step.
        cycles_per_bit: clock cycles of one conversion step (comparison and charge decrement).
        reset_cycles: clock cycles of a conversion's reset and precharge.
        cols_per_adc: columns sharing one ADC/neuron through a multiplexer (serialises conversions).
        clock_Hz: periphery and digital clock (ADC steps, shift-add, buffers).
        act_bits: bits of an activation in buffers and on the interconnect.
        accumulator_bits: width of the shift-add and partial-sum adders.
        buffer_kB: on-chip SRAM buffer per chip (kilobytes).
        pipeline: layers on different cores work on successive inputs at once (throughput =
            1 / slowest layer); otherwise one input at a time.
        digital_mac_units: 8-bit MAC units of the digital baselines (their parallelism).
        digital_sram_kB: weight SRAM of the digital SRAM baseline; larger models stream weights
            from DRAM every inference.
        digital_reram_sense_share: bit lines per sense amplifier of the digital-ReRAM baseline.
        kv_store: where a language model's KV cache lives (``reram.cost.system``): "auto" (the
            chips' SRAM buffers if the whole cache fits them, else DRAM), "sram", "dram", or
            "cells" (written into ReRAM arrays token by token by write-verify, its two
            attention products read as analog MVMs on them: ``reram.cost.kv_cells``).

    """

    _section = "cost"
    cell_area_F2: float = num(60.0, 1, 1e4, "F^2")
    wl_voltage_V: float = num(1.2, 0.01, 20, "V")
    wl_low_V: float = num(0.0, 0, 20, "V")
    access_gate_F: float = num(0.5e-15, 1e-18, 1e-12, "F")
    wl_switching: str = "pulsed"
    adc: str = "sar"
    adc_enob_loss_bits: float = num(0.0, 0, 8, "bits")
    neuron_cap_F: float = num(20e-15, 1e-18, 1e-9, "F")
    neuron_bias_A: float = num(0.0, 0, 1e-2, "A")
    neuron_vdd_V: float = num(0.0, 0, 10, "V")
    sample_cycles: int = num(1, 1, 10_000, "cycles")
    cycles_per_bit: int = num(1, 1, 10_000, "cycles")
    reset_cycles: int = num(0, 0, 10_000, "cycles")
    cols_per_adc: int = num(1, 1, 65536, "columns")
    clock_Hz: float = num(1e9, 1e3, 1e11, "Hz")
    act_bits: int = num(8, 1, 32, "bits")
    accumulator_bits: int = num(16, 4, 64, "bits")
    buffer_kB: float = num(256.0, 1e-3, 1e7, "kB")
    pipeline: bool = True
    digital_mac_units: int = num(256, 1, 10_000_000, "units")
    digital_sram_kB: float = num(2048.0, 1e-3, 1e8, "kB")
    digital_reram_sense_share: int = num(8, 1, 65536, "bit lines")
    kv_store: str = "auto"

    def __post_init__(self) -> None:
        check(self)
        choice(self, "adc", ("sar", "integrate_fire"))
        choice(self, "wl_switching", ("pulsed", "every_plane"))
        choice(self, "kv_store", ("auto", "sram", "dram", "cells"))
        if not isinstance(self.pipeline, bool):
            fail("cost.pipeline", self.pipeline, "true or false")
        if self.wl_low_V >= self.wl_voltage_V:
            fail("cost.wl_low_V", self.wl_low_V, f"below cost.wl_voltage_V = {self.wl_voltage_V:g} V")
