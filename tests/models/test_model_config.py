from __future__ import annotations

import pytest
from pydantic import ValidationError

from vkstream.models import ModelConfig, VideoKNet, model_presets, preset


def test_presets_are_valid_and_distinct() -> None:
    presets = model_presets()
    assert {"tiny", "synth_small", "kitti_r50"} <= set(presets)
    assert presets["kitti_r50"].backbone == "resnet50"
    assert presets["kitti_r50"].num_thing_kernels == 100
    assert presets["synth_small"].neck_channels == 64
    for cfg in presets.values():
        assert cfg.num_kernels == cfg.num_thing_kernels + cfg.num_classes - len(cfg.thing_classes)
        assert ModelConfig.model_validate(cfg.model_dump()) == cfg


def test_synth_small_has_a_few_million_parameters() -> None:
    model = VideoKNet(preset("synth_small"))
    count = sum(p.numel() for p in model.parameters())
    assert 1_000_000 < count < 5_000_000


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(ValueError, match="synth_small"):
        preset("huge")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"thing_classes": (11, 19)}, "outside"),
        ({"thing_classes": (11, 11)}, "repeat"),
        ({"neck_channels": 30, "num_heads": 8}, "divisible"),
        ({"depth_max_m": 0.001}, "depth_max_m"),
        ({"association": "hungarian"}, "association"),
        ({"tracker": {"capacty": 3}}, "capacty"),
    ],
)
def test_bad_configs_are_refused_with_the_reason(change: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModelConfig.model_validate(change)


def test_an_unknown_backbone_is_a_clear_error() -> None:
    with pytest.raises((ValueError, RuntimeError), match="no_such_net"):
        VideoKNet(ModelConfig(backbone="no_such_net", neck_channels=32, num_heads=2))
