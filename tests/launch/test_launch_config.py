"""Config files: every problem is one line naming the file and the key; dumps load back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vkstream.launch.config import ConfigError, dump_config, format_validation_error, load_config


class Traffic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lanes_per_direction: int = Field(2, ge=1, le=3, description="Lanes each way.")
    speeds_mps: list[float] = Field(default_factory=lambda: [8.0, 12.0])


class Camera(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    fx: float = Field(gt=0)


class World(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed_offset: int = Field(0, description="Added to the command-line seed.\nKept small.")
    label: str = "city"
    traffic: Traffic = Traffic()
    cameras: list[Camera] = Field(default_factory=list)
    weather: Traffic | None = None

    @field_validator("label")
    @classmethod
    def _lowercase(cls, value: str) -> str:
        if value != value.lower():
            raise ValueError(f"must be lower case (got {value!r})")
        return value


def write(tmp_path: Path, text: str, name: str = "world.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path, model: type[BaseModel] = World) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, model)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_file_overrides_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "traffic:\n  lanes_per_direction: 3\ncameras:\n  - {name: left, fx: 700}\n")
    world = load_config(str(path), World)
    assert world.traffic.lanes_per_direction == 3
    assert world.traffic.speeds_mps == [8.0, 12.0]
    assert world.cameras == [Camera(name="left", fx=700.0)]
    assert world.label == "city"


@pytest.mark.parametrize("text", ["", "# everything commented out\n", "---\n"])
def test_empty_file_means_defaults(tmp_path: Path, text: str) -> None:
    assert load_config(write(tmp_path, text), World) == World()


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert config_error(path) == f"config file not found: {path}"


def test_folder_instead_of_file(tmp_path: Path) -> None:
    assert config_error(tmp_path) == f"config path is not a file: {tmp_path}"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("label: caf\xe9\n".encode("latin-1"))
    assert config_error(path).startswith(f"{path}: not UTF-8 text")


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "label: city\ntraffic:\n  lanes_per_direction: 2\n   speeds_mps: [1, 2]\n")
    message = config_error(path)
    assert message.startswith(f"{path}: invalid YAML at line 4, column ")


def test_unclosed_bracket(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "traffic:\n  speeds_mps: [1, 2\n"))
    assert "invalid YAML at line" in message


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "label: city\nseed_offset: 1\nlabel: town\n")
    assert config_error(path) == f"{path}: invalid YAML at line 3, column 1: duplicate key 'label'"


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "a list"), ("just words\n", "a string"), ("42\n", "a int value")]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path, text)
    assert config_error(path) == f"{path}: top level must be a mapping of keys to values, not {kind}"


def test_unknown_nested_key_with_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "traffic:\n  lanes_per_direktion: 2\n")
    assert config_error(path) == (
        f"{path}: unknown key 'traffic.lanes_per_direktion' (did you mean 'lanes_per_direction'?)"
    )


def test_unknown_key_without_close_match(tmp_path: Path) -> None:
    path = write(tmp_path, "colour: red\n")
    assert config_error(path) == f"{path}: unknown key 'colour'"


def test_unknown_key_inside_optional_section(tmp_path: Path) -> None:
    path = write(tmp_path, "weather:\n  speeds_mp: [1]\n")
    assert config_error(path).endswith("unknown key 'weather.speeds_mp' (did you mean 'speeds_mps'?)")


def test_value_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path, "traffic:\n  lanes_per_direction: 7\n")
    assert config_error(path) == (
        f"{path}: traffic.lanes_per_direction: Input should be less than or equal to 3 (got 7)"
    )


def test_wrong_type_in_list_names_the_index(tmp_path: Path) -> None:
    path = write(tmp_path, "traffic:\n  speeds_mps: [8, fast]\n")
    message = config_error(path)
    assert message.startswith(f"{path}: traffic.speeds_mps[1]: Input should be a valid number")
    assert message.endswith("(got 'fast')")


def test_section_of_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, "traffic: 3\n")
    assert config_error(path).startswith(f"{path}: traffic: Input should be a valid dictionary")


def test_missing_required_key_in_list_item(tmp_path: Path) -> None:
    path = write(tmp_path, "cameras:\n  - {name: left, fx: 700}\n  - {name: right}\n")
    assert config_error(path) == f"{path}: missing required key 'cameras[1].fx'"


def test_validator_message_without_prefix_or_repeated_value(tmp_path: Path) -> None:
    path = write(tmp_path, "label: City\n")
    assert config_error(path) == f"{path}: label: must be lower case (got 'City')"


def test_several_errors_count_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, "seed_offset: x\ntraffic:\n  lanes_per_direction: 0\ncolour: red\n")
    message = config_error(path)
    assert message.startswith(f"{path}: seed_offset: Input should be a valid integer")
    assert message.endswith("(and 2 more)")


def test_long_values_are_shortened(tmp_path: Path) -> None:
    path = write(tmp_path, f"seed_offset: {'x' * 500}\n")
    message = config_error(path)
    assert len(message) < len(str(path)) + 160
    assert "...)" in message


def test_format_validation_error_for_other_sources() -> None:
    with pytest.raises(ValidationError) as info:
        World.model_validate({"traffic": {"lanes_per_direction": 9}})
    assert format_validation_error(info.value, "--set") == (
        "--set: traffic.lanes_per_direction: Input should be less than or equal to 3 (got 9)"
    )


def test_dump_lists_every_key_and_loads_back(tmp_path: Path) -> None:
    world = World(
        seed_offset=3, cameras=[Camera(name="left", fx=700)], weather=Traffic(lanes_per_direction=1)
    )
    text = dump_config(world)
    assert "# Added to the command-line seed.\n# Kept small.\nseed_offset: 3\n" in text
    assert "traffic:\n  # Lanes each way.\n  lanes_per_direction: 2\n" in text
    assert yaml.safe_load(text)["traffic"]["speeds_mps"] == [8.0, 12.0]
    assert load_config(write(tmp_path, text), World) == world


def test_dump_of_defaults_loads_back(tmp_path: Path) -> None:
    text = dump_config(World())
    assert "weather: null\n" in text
    assert load_config(write(tmp_path, text), World) == World()
