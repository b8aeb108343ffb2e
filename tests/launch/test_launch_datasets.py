"""``scan`` and ``preview`` on a small dataset written with the data layer's writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vkstream.data import Frame, Intrinsics, make_writer, open_dataset, read_png
from vkstream.data.pick import default_positions

WIDTH, HEIGHT, FRAMES = 64, 40, 7


@pytest.fixture(params=["kitti-step", "semkitti-dvps"])
def dataset(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A labelled dataset with one sequence of FRAMES frames, numbered 0..FRAMES-1."""
    root = tmp_path / request.param
    writer = make_writer(request.param, root)
    rng = np.random.default_rng(0)
    intrinsics = Intrinsics(fx=50.0, fy=50.0, cx=WIDTH / 2, cy=HEIGHT / 2)
    for index in range(FRAMES):
        semantic = np.zeros((HEIGHT, WIDTH), np.uint8)  # road
        semantic[: HEIGHT // 2] = 10  # sky
        instance = np.zeros((HEIGHT, WIDTH), np.uint16)
        semantic[20:30, 10:20], instance[20:30, 10:20] = 13, 1  # a car
        writer.write(
            Frame(
                sequence="0",
                index=index,
                timestamp=index / 10,
                image=rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8),
                semantic=semantic,
                instance=instance,
                depth=np.full((HEIGHT, WIDTH), 5.0 + index, np.float32),
                intrinsics=intrinsics,
            )
        )
    return root


def first_sequence(root: Path) -> str:
    return open_dataset(root).sequences[0]


def test_scan_prints_the_summary(cli, dataset: Path) -> None:
    result = cli("scan", dataset)
    assert (result.code, result.err) == (0, "")
    assert dataset.name in result.out  # the layout
    assert str(FRAMES) in result.out


def test_scan_of_an_empty_split(cli, dataset: Path) -> None:
    result = cli("scan", dataset, "--split", "val")
    assert result.one_line_error("vkstream scan").startswith(str(dataset))


def test_preview_chosen_frames_in_the_order_given(cli, dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "strip.png"
    result = cli("preview", dataset, "--out", out, "--frames", "6,0,3", "--scale", "1")
    assert (result.code, result.err) == (0, "")
    assert result.out == f"wrote {out} (sequence {first_sequence(dataset)}, frames 6,0,3)\n"
    assert read_png(out, expect="rgb").shape == (3 * HEIGHT, 3 * WIDTH, 3)


def test_preview_defaults_spread_four_frames(cli, dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "strip.png"
    result = cli("preview", dataset, "--out", out, "--sequence", "0")  # matches 0000 and 000000
    assert result.out.endswith(f"(sequence {first_sequence(dataset)}, frames 0,2,4,6)\n")
    assert read_png(out, expect="rgb").shape == (4 * HEIGHT // 2, 3 * WIDTH // 2, 3)


def test_preview_of_missing_frames_and_sequences(cli, dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "strip.png"
    message = cli("preview", dataset, "--out", out, "--frames", "1,9,12").one_line_error("vkstream preview")
    name = first_sequence(dataset)
    assert (
        message == f"sequence {name} has no frame 9, 12 ({FRAMES} frames; use numbers as in the file names)"
    )
    message = cli("preview", dataset, "--out", out, "--sequence", "7").one_line_error("vkstream preview")
    assert message == f"no sequence '7' in {dataset} (found: {name})"
    assert not out.exists()


def test_synth_refuses_a_folder_of_another_layout(cli, dataset: Path) -> None:
    other = "kitti-step" if dataset.name == "semkitti-dvps" else "semkitti-dvps"
    result = cli(
        "synth", dataset, "--layout", other, "--sequences", "1", "--frames", "1", "--size", "64x64",
        "--seed", "0",
    )  # fmt: skip
    assert result.one_line_error("vkstream synth") == (
        f"{dataset} already holds a {dataset.name} dataset; choose an empty folder or --layout {dataset.name}"
    )


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, {0}), (4, {0, 1, 2, 3}), (7, {0, 2, 4, 6}), (20, {0, 6, 12, 18}), (1000, {0, 10, 20, 30})],
)
def test_default_frames_stay_near_the_start_of_long_sequences(count: int, expected: set[int]) -> None:
    assert default_positions(count, 4) == expected
