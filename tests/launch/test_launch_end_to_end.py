"""Real runs: render a tiny synthetic dataset, scan it and preview it; check the synth config schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vkstream.data.pngio import read_png

WIDTH, HEIGHT, FRAMES = 96, 48, 3


def synth_args(out: Path, layout: str, *extra: str | Path) -> list[str | Path]:
    return [
        "synth", out, "--layout", layout, "--sequences", "1", "--frames", str(FRAMES),
        "--size", f"{WIDTH}x{HEIGHT}", "--seed", "5", "--no-progress", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("layout", ["kitti-step", "semkitti-dvps"])
def test_synth_then_scan_then_preview(cli, tmp_path: Path, layout: str) -> None:
    out = tmp_path / "dataset"
    rendered = cli(*synth_args(out, layout, "--preview", tmp_path / "synth.png"))
    assert rendered.code == 0, rendered.err
    assert rendered.out.strip()
    assert read_png(tmp_path / "synth.png", expect="rgb").ndim == 3

    scanned = cli("scan", out)
    assert scanned.code == 0, scanned.err
    assert layout in scanned.out
    assert cli("scan", out, "--layout", layout).out == scanned.out

    strip_path = tmp_path / "strip.png"
    shown = cli("preview", out, "--out", strip_path, "--frames", f"{FRAMES - 1},0", "--scale", "1")
    assert shown.code == 0, shown.err
    assert str(strip_path) in shown.out
    strip = read_png(strip_path, expect="rgb")
    assert strip.shape == (2 * HEIGHT, 3 * WIDTH, 3)  # two rows of image | panoptic | depth

    default_path = tmp_path / "default.png"
    assert cli("preview", out, "--out", default_path, "--scale", "0.5").code == 0
    assert read_png(default_path, expect="rgb").shape == (FRAMES * HEIGHT // 2, 3 * WIDTH // 2, 3)

    missing = cli("preview", out, "--out", tmp_path / "x.png", "--frames", "0,40")
    assert "has no frame 40" in missing.one_line_error("vkstream preview")
    unknown = cli("preview", out, "--out", tmp_path / "x.png", "--sequence", "nope")
    assert unknown.one_line_error("vkstream preview").startswith(f"no sequence 'nope' in {out}")


def test_synth_is_reproducible_and_honours_the_config(cli, tmp_path: Path) -> None:
    config = tmp_path / "world.yaml"
    config.write_text(cli("config", "show", "synth").out)
    first, second = tmp_path / "a", tmp_path / "b"
    assert cli(*synth_args(first, "kitti-step", "--config", config)).code == 0
    assert cli(*synth_args(second, "kitti-step")).code == 0
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_config_show_synth_lists_every_key_and_checks_clean(cli, tmp_path: Path) -> None:
    from vkstream.synth import SynthConfig

    shown = cli("config", "show", "synth")
    assert shown.code == 0
    data = yaml.safe_load(shown.out)
    assert set(data) == set(SynthConfig.model_fields)
    path = tmp_path / "defaults.yaml"
    path.write_text(shown.out)
    assert cli("config", "check", "synth", path).out == f"ok: {path}\n"


def test_synth_config_errors_are_one_line(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera:\n  height_m: 99\n")
    message = cli("config", "check", "synth", bad).one_line_error("vkstream config check")
    assert message.startswith(f"{bad}: camera.height_m: Input should be less than or equal to")
    assert message.endswith("(got 99)")
    out = tmp_path / "never"
    assert cli(*synth_args(out, "kitti-step", "--config", bad)).one_line_error("vkstream synth") == message
    assert not out.exists()


def test_console_script_synth_config_errors(script, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = script(*synth_args(tmp_path / "out", "kitti-step", "--config", missing))
    assert result.one_line_error("vkstream synth") == f"config file not found: {missing}"

    typo = tmp_path / "typo.yaml"
    typo.write_text("camera:\n  heigth_m: 1.5\n")
    result = script(*synth_args(tmp_path / "out", "kitti-step", "--config", typo))
    assert result.one_line_error("vkstream synth").startswith(f"{typo}: unknown key 'camera.heigth_m'")


def test_console_script_end_to_end(script, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    rendered = script(*synth_args(out, "semkitti-dvps"))
    assert rendered.code == 0, rendered.err
    assert script("scan", out).code == 0
    assert script("preview", out, "--out", tmp_path / "p.png").code == 0
    assert (tmp_path / "p.png").is_file()
