from __future__ import annotations

import pytest
import torch

from vkstream.data.classes import VOID, TrainId
from vkstream.models import ModelConfig, build_targets


def crafted() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    semantic = torch.full((8, 10), int(TrainId.ROAD), dtype=torch.uint8)
    semantic[:2] = int(TrainId.SKY)
    semantic[4:6, 1:3] = int(TrainId.CAR)
    semantic[4:6, 5:7] = int(TrainId.CAR)
    semantic[6:8, 8:10] = int(TrainId.PERSON)  # crowd: no instance id
    semantic[0, 0] = VOID
    instance = torch.zeros(8, 10, dtype=torch.int32)
    instance[4:6, 1:3] = 7
    instance[4:6, 5:7] = 3
    depth = torch.linspace(1, 40, 80).view(8, 10)
    return semantic, instance, depth


def test_one_segment_per_stuff_class_and_per_instance() -> None:
    cfg = ModelConfig()
    t = build_targets(*crafted(), cfg)
    assert t.labels.tolist() == [int(TrainId.ROAD), int(TrainId.SKY), int(TrainId.CAR), int(TrainId.CAR)]
    assert t.track_ids.tolist() == [0, 0, 3, 7]
    assert t.is_thing.tolist() == [False, False, True, True]
    assert t.masks.dtype == torch.bool and t.masks.shape == (4, 8, 10)
    assert int(t.masks[2].sum()) == 4 and bool(t.masks[2, 4, 5])
    assert t.semantic.dtype == torch.long and t.depth.dtype == torch.float32


def test_crowd_and_void_are_ignored_and_in_no_mask() -> None:
    t = build_targets(*crafted(), ModelConfig())
    assert bool(t.ignore[0, 0]) and bool(t.ignore[7, 9])
    assert int(t.ignore.sum()) == 1 + 4
    assert not bool((t.masks.any(0) & t.ignore).any())


def test_missing_depth_is_all_invalid_and_to_moves_everything() -> None:
    semantic, instance, _ = crafted()
    t = build_targets(semantic, instance, None, ModelConfig()).to("cpu")
    assert float(t.depth.abs().sum()) == 0.0


def test_bad_labels_are_clear_errors() -> None:
    semantic, instance, depth = crafted()
    semantic[3, 3] = 40
    with pytest.raises(ValueError, match="class 40"):
        build_targets(semantic, instance, depth, ModelConfig())
    with pytest.raises(ValueError, match="one size"):
        build_targets(semantic, instance[:4], depth, ModelConfig())
    with pytest.raises(ValueError, match="depth"):
        build_targets(crafted()[0], instance, depth[:, :3], ModelConfig())
