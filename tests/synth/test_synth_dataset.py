"""Writing the synthetic world to disk: both official layouts read back as exactly what was rendered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from vkstream.data import open_dataset, read_png
from vkstream.synth import SequenceRenderer, SynthConfig, generate_dataset

SIZE = (96, 48)
SEQUENCES, FRAMES, SEED = 2, 3, 9


def generate(out: Path, layout: str, **overrides) -> object:
    args = {"layout": layout, "sequences": SEQUENCES, "frames": FRAMES, "size": SIZE, "seed": SEED}
    return generate_dataset(out, **{**args, **overrides, "progress": False})


@pytest.mark.parametrize("layout", ["kitti-step", "semkitti-dvps"])
def test_the_readers_load_exactly_what_the_renderer_drew(tmp_path: Path, layout: str) -> None:
    out = tmp_path / layout
    preview = tmp_path / "preview.png"
    report = generate(out, layout, preview=preview)
    assert report.frames == SEQUENCES * FRAMES
    assert report.cars + report.people > 0
    assert read_png(preview, expect="rgb").shape[1] == 3 * SIZE[0]

    dataset = open_dataset(out)  # the layout is detected from the folders alone
    assert dataset.layout == layout
    assert len(dataset.sequences) == SEQUENCES
    frames = list(dataset)
    assert len(frames) == SEQUENCES * FRAMES
    for seq_index, name in enumerate(dataset.sequences):
        renderer = SequenceRenderer(SEED, seq_index, FRAMES, SIZE, name=name)
        for read in dataset.frames(name):
            drawn = renderer.render(read.index)
            assert (read.sequence, read.timestamp) == (drawn.sequence, pytest.approx(drawn.timestamp))
            for array in ("image", "semantic", "instance", "depth"):
                np.testing.assert_array_equal(getattr(read, array), getattr(drawn, array), err_msg=array)
            assert read.intrinsics == drawn.intrinsics

    manifest = yaml.safe_load((out / "synth.yaml").read_text())
    assert manifest["seed"] == SEED and manifest["layout"] == layout
    assert SynthConfig.model_validate(manifest["config"]) == SynthConfig()


def test_worker_processes_write_the_same_files(tmp_path: Path) -> None:
    one, three = tmp_path / "one", tmp_path / "three"
    generate(one, "semkitti-dvps", sequences=3)
    report = generate(three, "semkitti-dvps", sequences=3, workers=3)
    assert report.frames == 3 * FRAMES and report.sequences == ["000000", "000001", "000002"]
    files = sorted(p.relative_to(one) for p in one.rglob("*.png"))
    assert (
        files == sorted(p.relative_to(three) for p in three.rglob("*.png")) and len(files) == 3 * FRAMES * 4
    )
    for name in files:
        assert (one / name).read_bytes() == (three / name).read_bytes(), name
    assert (one / "synth.yaml").read_text() == (three / "synth.yaml").read_text()


def test_regenerating_the_same_layout_overwrites_in_place(tmp_path: Path) -> None:
    generate(tmp_path, "semkitti-dvps")
    generate(tmp_path, "semkitti-dvps", sequences=1, seed=SEED + 1)
    dataset = open_dataset(tmp_path)
    fresh = SequenceRenderer(SEED + 1, 0, FRAMES, SIZE).render(0)
    np.testing.assert_array_equal(next(iter(dataset)).image, fresh.image)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"layout": "kitti-raw"}, "unknown layout 'kitti-raw' for synthetic data"),
        ({"layout": "cityscapes"}, "unknown layout 'cityscapes' for synthetic data"),
        ({"size": (31, 48)}, "image size 31x48 is too small (at least 32x32)"),
        ({"frames": 0}, "sequences and frames must be at least 1"),
        ({"sequences": 0}, "sequences and frames must be at least 1"),
        ({"seed": -1}, "seed must be >= 0 (got -1)"),
        ({"workers": 0}, "workers must be at least 1 (got 0)"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    tmp_path: Path, overrides: dict, message: str
) -> None:
    out = tmp_path / "never"
    with pytest.raises(ValueError) as error:
        generate(out, overrides.pop("layout", "kitti-step"), **overrides)
    assert str(error.value).startswith(message)
    assert not out.exists()


def test_a_folder_of_the_other_layout_is_refused(tmp_path: Path) -> None:
    generate(tmp_path, "kitti-step", sequences=1, frames=1)
    with pytest.raises(ValueError, match="already holds a kitti-step dataset"):
        generate(tmp_path, "semkitti-dvps")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        generate(blocker, "kitti-step")
