"""The command line's surface: help, version, exit codes and one-line errors."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import vkstream
from vkstream.launch import schemas
from vkstream.launch.cli import build_parser, main
from vkstream.launch.commands import scan as scan_command
from vkstream.nodes import registry

COMMANDS = ("synth", "scan", "preview", "train", "predict", "export", "eval", "config", "listen", "keys")
HELP_PATHS = [(), *((name,) for name in COMMANDS), ("config", "show"), ("config", "check")]


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_speed_mps: float = Field(15.0, gt=0, le=60, description="Highest speed.")


@pytest.fixture
def limits_schema(monkeypatch: pytest.MonkeyPatch):
    """Register the ``Limits`` model as config schema ``limits``, as a package's entry point would."""
    monkeypatch.setitem(registry.BUILTIN["config"], "limits", f"{__name__}:Limits")
    registry.entries.cache_clear()
    yield "limits"
    monkeypatch.undo()
    registry.entries.cache_clear()


def test_top_level_help_lists_every_command(cli) -> None:
    result = cli("--help")
    assert result.code == 0
    for name in COMMANDS:
        line = next(line for line in result.out.splitlines() if line.split()[:1] == [name])
        assert len(line.split()) > 2, f"{name} has no description"


@pytest.mark.parametrize("path", HELP_PATHS[1:], ids=" ".join)
def test_every_command_help_has_an_example(cli, path: tuple[str, ...]) -> None:
    result = cli(*path, "--help")
    assert result.code == 0
    assert result.out.startswith(f"usage: vkstream {' '.join(path)}")
    assert "example" in result.out
    assert f"vkstream {' '.join(path)} " in result.out.split("example", 1)[1]


def test_version(cli) -> None:
    result = cli("--version")
    assert (result.code, result.out) == (0, f"vkstream {vkstream.__version__}\n")


def test_help_imports_nothing_heavy() -> None:
    code = "import sys; from vkstream.launch.cli import main; main(['--help']); print(sorted(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = done.stdout.splitlines()[-1]
    for heavy in ("'numpy'", "'torch'", "'pydantic'", "'cv2'", "'vkstream.data'", "'vkstream.synth'"):
        assert heavy not in loaded


def test_no_command_is_a_usage_error(cli) -> None:
    message = cli().one_line_error("vkstream")
    assert "COMMAND" in message


def test_unknown_command(cli) -> None:
    assert "invalid choice: 'render'" in cli("render").one_line_error("vkstream")


def test_bad_layout_choice(cli, tmp_path: Path) -> None:
    message = cli("scan", tmp_path, "--layout", "kitti").one_line_error("vkstream scan")
    assert "argument --layout: invalid choice: 'kitti'" in message


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("12x", "invalid --size '12x': expected WxH such as 1242x375"),
        ("1242", "invalid --size '1242': expected WxH such as 1242x375"),
        ("64x48x3", "invalid --size '64x48x3': expected WxH such as 1242x375"),
        ("16x375", "invalid --size '16x375': width and height must each be between 32 and 4096"),
        ("1242x5000", "invalid --size '1242x5000': width and height must each be between 32 and 4096"),
    ],
)
def test_bad_size(cli, tmp_path: Path, size: str, expected: str) -> None:
    result = cli(
        "synth", tmp_path / "out", "--layout", "kitti-step", "--sequences", "1", "--frames", "1",
        "--size", size, "--seed", "0",
    )  # fmt: skip
    assert result.one_line_error("vkstream synth") == expected
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--sequences", "0", "invalid --sequences 0: must be at least 1"),
        ("--frames", "-2", "invalid --frames -2: must be at least 1"),
        ("--seed", "-1", "invalid --seed -1: must be at least 0"),
    ],
)
def test_synth_counts_out_of_range(cli, tmp_path: Path, option: str, value: str, expected: str) -> None:
    argv = {"--sequences": "1", "--frames": "1", "--seed": "0", option: value}
    flat = [item for pair in argv.items() for item in pair]
    result = cli("synth", tmp_path / "out", "--layout", "kitti-step", "--size", "64x64", *flat)
    assert result.one_line_error("vkstream synth") == expected


def test_synth_requires_its_options(cli, tmp_path: Path) -> None:
    message = cli("synth", tmp_path).one_line_error("vkstream synth")
    assert "required: --layout, --sequences, --frames, --size, --seed" in message


def test_synth_output_must_be_a_folder(cli, tmp_path: Path) -> None:
    out = tmp_path / "file.txt"
    out.write_text("x")
    result = cli(
        "synth", out, "--layout", "kitti-step", "--sequences", "1", "--frames", "1", "--size", "64x64",
        "--seed", "0",
    )  # fmt: skip
    assert result.one_line_error("vkstream synth") == f"output path exists and is not a folder: {out}"


def test_synth_refuses_to_mix_layouts(cli, tmp_path: Path) -> None:
    (tmp_path / "video_sequence" / "train").mkdir(parents=True)
    result = cli(
        "synth", tmp_path, "--layout", "kitti-step", "--sequences", "1", "--frames", "1", "--size", "64x64",
        "--seed", "0",
    )  # fmt: skip
    assert result.one_line_error("vkstream synth") == (
        f"{tmp_path} already holds a semkitti-dvps dataset; choose an empty folder or --layout semkitti-dvps"
    )


def test_scan_of_missing_folder(cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert cli("scan", missing).one_line_error("vkstream scan") == f"dataset folder not found: {missing}"


def test_scan_of_folder_without_a_dataset_names_it(cli, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a dataset")
    message = cli("scan", tmp_path).one_line_error("vkstream scan")
    assert message.startswith(f"{tmp_path}: no known dataset layout")


def test_scan_of_truncated_png_names_the_file(cli, tmp_path: Path) -> None:
    frame = tmp_path / "images" / "train" / "0000" / "000000.png"
    frame.parent.mkdir(parents=True)
    frame.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    message = cli("scan", tmp_path, "--layout", "kitti-step").one_line_error("vkstream scan")
    assert message.startswith(str(frame))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--frames", "0,x"],
            "invalid --frames '0,x': expected comma-separated frame numbers such as 0,5,10",
        ),
        (["--frames", "3,3"], "invalid --frames '3,3': a frame is listed twice"),
        (["--scale", "0"], "invalid --scale 0: must be greater than 0 and at most 4"),
        (["--scale", "nan"], "invalid --scale nan: must be greater than 0 and at most 4"),
    ],
)
def test_preview_argument_errors(cli, tmp_path: Path, argv: list[str], expected: str) -> None:
    result = cli("preview", tmp_path, "--out", tmp_path / "p.png", *argv)
    assert result.one_line_error("vkstream preview") == expected


def test_preview_output_must_be_png(cli, tmp_path: Path) -> None:
    message = cli("preview", tmp_path, "--out", tmp_path / "p.jpg").one_line_error("vkstream preview")
    assert message == f"invalid --out '{tmp_path / 'p.jpg'}': images are written as PNG, name it *.png"


def test_config_show_defaults_and_merged(cli, limits_schema: str, tmp_path: Path) -> None:
    result = cli("config", "show", limits_schema)
    assert (result.code, result.out) == (0, "# Highest speed.\nmax_speed_mps: 15.0\n")
    path = tmp_path / "limits.yaml"
    path.write_text("max_speed_mps: 20\n")
    assert cli("config", "show", limits_schema, path).out.endswith("max_speed_mps: 20.0\n")


def test_config_check(cli, limits_schema: str, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("max_speed_mps: 30\n")
    result = cli("config", "check", limits_schema, good)
    assert (result.code, result.out, result.err) == (0, f"ok: {good}\n", "")

    bad = tmp_path / "bad.yaml"
    bad.write_text("max_speed_mps: 99\n")
    message = cli("config", "check", limits_schema, bad).one_line_error("vkstream config check")
    assert message == f"{bad}: max_speed_mps: Input should be less than or equal to 60 (got 99)"

    typo = tmp_path / "typo.yaml"
    typo.write_text("max_sped_mps: 9\n")
    message = cli("config", "check", limits_schema, typo).one_line_error("vkstream config check")
    assert message == f"{typo}: unknown key 'max_sped_mps' (did you mean 'max_speed_mps'?)"

    missing = tmp_path / "missing.yaml"
    message = cli("config", "check", limits_schema, missing).one_line_error("vkstream config check")
    assert message == f"config file not found: {missing}"


def test_config_unknown_schema(cli, tmp_path: Path) -> None:
    message = cli("config", "check", "nonsense", tmp_path / "x.yaml").one_line_error("vkstream config check")
    assert "argument SCHEMA: invalid choice: 'nonsense'" in message


def test_config_schemas_are_the_registrys_configs_node_options_and_sources() -> None:
    names = schemas.schema_names()
    assert {"pipeline", "synth", "train", "publisher", "evaluator", "recorder", "source:kitti"} <= set(names)
    assert schemas.resolve_schema("recorder").model_fields["path"].is_required()
    assert "ground_truth" in schemas.resolve_schema("source:kitti").model_fields
    with pytest.raises(ValueError, match="unknown config schema 'nonsense'"):
        schemas.resolve_schema("nonsense")


def _replace_scan(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    def run(args: argparse.Namespace) -> int:
        raise error

    monkeypatch.setattr(scan_command, "run", run)


def test_value_error_is_a_user_error(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _replace_scan(monkeypatch, ValueError("unknown layout 'x';\n expected one of a, b"))
    assert cli("scan", tmp_path).one_line_error("vkstream scan") == "unknown layout 'x'; expected one of a, b"


def test_validation_error_is_condensed(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        Limits(max_speed_mps=-1, extra=1)  # type: ignore[call-arg]
    _replace_scan(monkeypatch, info.value)
    assert cli("scan", tmp_path).one_line_error("vkstream scan") == (
        "Limits: max_speed_mps: Input should be greater than 0 (got -1) (and 1 more)"
    )


def test_keyboard_interrupt_exits_130_quietly(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _replace_scan(monkeypatch, KeyboardInterrupt())
    result = cli("scan", tmp_path)
    assert (result.code, result.out, result.err) == (130, "", "")


def test_bugs_keep_their_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _replace_scan(monkeypatch, RuntimeError("bug"))
    with pytest.raises(RuntimeError, match="bug"):
        main(["scan", str(tmp_path)])


def test_verbose_adds_details_and_logging_is_restored(cli, tmp_path: Path) -> None:
    logger = logging.getLogger("vkstream")
    handlers, level = list(logger.handlers), logger.level
    result = cli("scan", tmp_path / "nowhere", "-v")
    assert result.code == 2
    assert "Traceback" in result.err
    assert (
        result.err.splitlines()[-1]
        == f"vkstream scan: error: dataset folder not found: {tmp_path / 'nowhere'}"
    )
    assert (logger.handlers, logger.level) == (handlers, level)


def test_verbosity_flags_before_and_after_the_command() -> None:
    parser = build_parser()
    assert parser.parse_args(["-q", "scan", "d"]).log_level == logging.WARNING
    assert parser.parse_args(["scan", "d", "-v"]).log_level == logging.DEBUG
    assert parser.parse_args(["scan", "d"]).log_level == logging.INFO
    assert parser.parse_args(["config", "show", "synth", "-q"]).log_level == logging.WARNING


def test_console_script_help_and_version(script) -> None:
    result = script("--help")
    assert result.code == 0
    assert all(name in result.out for name in COMMANDS)
    assert script("--version").out == f"vkstream {vkstream.__version__}\n"


def test_console_script_errors_are_one_line(script, tmp_path: Path) -> None:
    bad_size = script(
        "synth", tmp_path / "out", "--layout", "kitti-step", "--sequences", "1", "--frames", "1",
        "--size", "12x", "--seed", "0",
    )  # fmt: skip
    assert bad_size.one_line_error("vkstream synth") == "invalid --size '12x': expected WxH such as 1242x375"
    bad_layout = script("scan", tmp_path, "--layout", "kitti")
    assert "invalid choice: 'kitti'" in bad_layout.one_line_error("vkstream scan")
    missing = script("scan", tmp_path / "nowhere")
    assert missing.one_line_error("vkstream scan") == f"dataset folder not found: {tmp_path / 'nowhere'}"


@pytest.mark.parametrize("split", ["../train", "a/b", "..", ".hidden", ""])
def test_split_must_be_a_folder_name(cli, tmp_path: Path, split: str) -> None:
    message = cli("scan", tmp_path, "--split", split).one_line_error("vkstream scan")
    assert message == f"invalid --split '{split}': expected a folder name such as train or val"
