"""KITTI-like labelling: cars and people too small to annotate are crowd in the frames where they are."""

from __future__ import annotations

import numpy as np
import pytest

from vkstream.data import TrainId
from vkstream.synth import SequenceRenderer, SynthConfig
from vkstream.synth.render import crowd_small_instances

W, H = 320, 96
EVERY = SynthConfig(labels={"min_instance_height_px": 0})


def visible_heights(instance: np.ndarray) -> dict[int, int]:
    heights = {}
    for iid in np.unique(instance[instance > 0]).tolist():
        rows = np.flatnonzero((instance == iid).any(axis=1))
        heights[iid] = int(rows.max() - rows.min() + 1)
    return heights


def test_small_things_become_crowd_and_the_rest_is_unchanged() -> None:
    default, every = SynthConfig(), EVERY
    threshold = default.labels.min_height_at(H)
    assert threshold == pytest.approx(25 * H / 375)
    small_seen = large_seen = 0
    for seed in (0, 1, 2):
        labelled = SequenceRenderer(seed, 0, 30, (W, H), default)
        full = SequenceRenderer(seed, 0, 30, (W, H), every)
        for index in range(0, 30, 3):
            a, b = labelled.render(index), full.render(index)
            np.testing.assert_array_equal(a.image, b.image)
            np.testing.assert_array_equal(a.semantic, b.semantic)  # the class is kept
            np.testing.assert_array_equal(a.depth, b.depth)
            for iid, height in visible_heights(b.instance).items():
                where = b.instance == iid
                if height < threshold:
                    small_seen += 1
                    assert (a.instance[where] == 0).all(), (seed, index, iid, height)
                else:
                    large_seen += 1
                    assert (a.instance[where] == iid).all(), (seed, index, iid, height)
            thing = np.isin(a.semantic, (TrainId.PERSON, TrainId.CAR))
            assert (a.instance[~thing] == 0).all()
    assert small_seen and large_seen, "the sequences need both small and large objects"


def test_the_threshold_scales_with_the_image_height() -> None:
    labels = SynthConfig(labels={"min_instance_height_px": 30}).labels
    assert labels.min_height_at(375) == 30
    assert labels.min_height_at(188) == pytest.approx(15.04)


def test_crowd_rule_on_a_hand_made_map() -> None:
    instance = np.zeros((10, 8), dtype=np.uint16)
    instance[1:3, 1:7] = 4  # 2 rows tall, 6 wide: small
    instance[3:9, 2] = 9  # 6 rows tall, 1 wide: kept
    instance[0, 7] = 9  # the same object elsewhere: its box spans rows 0-8
    instance[5:9, 5:7] = 11  # 4 rows: small at 5, kept at 4
    out = crowd_small_instances(instance, 5)
    assert sorted(np.unique(out).tolist()) == [0, 9]
    assert (out[instance == 9] == 9).all() and (out[instance == 4] == 0).all()
    np.testing.assert_array_equal(crowd_small_instances(instance, 4), np.where(instance == 4, 0, instance))
    assert crowd_small_instances(instance, 0) is instance
    empty = np.zeros((4, 4), dtype=np.uint16)
    np.testing.assert_array_equal(crowd_small_instances(empty, 10), empty)


def test_the_command_line_sets_the_threshold(cli, tmp_path) -> None:
    import yaml

    from vkstream.data.datasets import open_dataset

    common = (
        "--layout",
        "kitti-step",
        "--sequences",
        "1",
        "--frames",
        "4",
        "--size",
        "320x96",
        "--seed",
        "2",
    )
    counts = {}
    for px in ("0", "60"):
        out = tmp_path / px
        assert cli("synth", out, *common, "--min-instance-height", px, "--no-progress").code == 0
        manifest = yaml.safe_load((out / "synth.yaml").read_text())
        assert manifest["config"]["labels"]["min_instance_height_px"] == float(px)
        dataset = open_dataset(out, split="train", read_images=False)
        counts[px] = sum(int((f.instance > 0).sum()) for f in dataset.frames(dataset.sequences[0]))
    assert counts["0"] > counts["60"]  # a high threshold turns objects into crowd
    bad = cli("synth", tmp_path / "bad", *common, "--min-instance-height", "-1")
    assert bad.code == 2 and "--min-instance-height" in bad.one_line_error("vkstream synth")
