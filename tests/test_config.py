import dataclasses

import pytest

import reram
from reram.config import Config, ConfigError, load_config, override


@pytest.mark.parametrize("name", reram.available_presets())
def test_every_preset_loads_and_round_trips(name, tmp_path):
    cfg = reram.preset(name)
    assert cfg.name == name
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    assert load_config(path) == cfg


def test_required_presets_exist():
    assert {"ideal", "neurram", "hfox"} <= set(reram.available_presets())


def test_neurram_matches_published_settings():
    c = reram.preset("neurram")
    assert (c.device.g_min_S, c.device.g_max_S) == (1e-6, 40e-6)
    assert c.device.wv_tolerance_S == 1e-6 and c.device.wv_max_iterations == 50
    assert c.device.levels == 8 and c.array.differential in ("rows", "columns")  # 15 signed levels = 4 bits
    assert (c.array.rows, c.array.cols, c.chip.cores) == (256, 256, 48)
    assert c.periphery.dac.bit_serial and c.device.relax_times_s == (1.0, 86400.0, 172800.0)
    assert c.device.relax_poly_uS[1][:2] == (0.701, 22.086)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"device": {"g_min_S": -1e-6}}, "device.g_min_S"),
        ({"device": {"g_min_S": 50e-6}}, "device.g_max_S"),
        ({"periphery": {"adc": {"bits": 0}}}, "periphery.adc.bits"),
        ({"periphery": {"dac": {"bits": 0}}}, "periphery.dac.bits"),
        ({"device": {"program_mode": "magic"}}, "device.program_mode"),
        ({"device": {"stuck_low_rate": 1.5}}, "device.stuck_low_rate"),
        ({"array": {"rows": 0}}, "array.rows"),
        ({"device": {"g_max_S": "big"}}, "device.g_max_S"),
        ({"device": {"colour": 1}}, "device.colour"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_bad_values_name_field_value_and_allowed(changes, field):
    with pytest.raises(ConfigError) as err:
        override(reram.preset("neurram"), changes)
    msg = str(err.value)
    assert field in msg and ("allowed" in msg)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="neurram"):
        reram.preset("nope")


def test_file_with_base_overrides_only_named_keys(tmp_path):
    p = tmp_path / "my.toml"
    p.write_text('base = "neurram"\n[periphery.adc]\nbits = 8\n')
    c = load_config(p)
    assert c.periphery.adc.bits == 8 and c.device == reram.preset("neurram").device


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().seed = 3  # type: ignore[misc]
