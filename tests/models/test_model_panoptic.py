from __future__ import annotations

import torch

from vkstream.data.classes import TrainId
from vkstream.models import ModelConfig
from vkstream.models.panoptic import merge_panoptic

CFG = ModelConfig(num_thing_kernels=2)
NT, N = 2, CFG.num_kernels
ROAD = NT + CFG.stuff_classes.index(int(TrainId.ROAD))
SKY = NT + CFG.stuff_classes.index(int(TrainId.SKY))


def scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 4x6 frame: sky on top, road below, a confident car and a weaker car kernel overlapping it."""
    probs = torch.zeros(1, N, 4, 6)
    probs[0, SKY, :2] = 0.9
    probs[0, ROAD, 2:] = 0.9
    probs[0, 0, 2:4, 0:2] = 0.95  # car, score 0.95
    probs[0, 1, 2:4, 0:3] = 0.9  # second car kernel: 2 of its 6 pixels visible -> dropped
    probs[0, 1, 0, 5] = 0.0
    logits = torch.full((1, N, CFG.num_classes), -9.0)
    logits[0, 0, int(TrainId.CAR)] = 3.0
    logits[0, 1, int(TrainId.CAR)] = 2.5
    for k, c in enumerate(CFG.stuff_classes):
        logits[0, NT + k, c] = 2.0
    query_depth = torch.arange(N, dtype=torch.float32).view(1, N, 1, 1).expand(1, N, 4, 6) + 1.0
    dense = torch.full((1, 1, 4, 6), 50.0)
    return probs, logits, query_depth.contiguous(), dense


def test_merge_assigns_every_pixel_and_follows_scores() -> None:
    merged = merge_panoptic(CFG, *scene())
    slot = merged.slot[0]
    assert bool((slot[2:4, 0:2] == 0).all())  # the car
    assert bool((slot[:2] == SKY).all())
    # The second car kernel fails the overlap test: its remaining pixels are an untracked car region.
    car_region = N + CFG.thing_classes.index(int(TrainId.CAR))
    assert bool((slot[2:4, 2] == car_region).all())
    # Road also fails it (half its mask is covered) but a stuff class keeps its pixels.
    assert bool((slot[2:4, 3:] == ROAD).all())
    assert int(merged.area[0, 1]) == 0
    assert int(merged.area.sum()) == 24
    semantic = merged.semantic[0]
    assert bool((semantic[2:4, 0:2] == int(TrainId.CAR)).all()) and bool(
        (semantic[:2] == int(TrainId.SKY)).all()
    )
    assert merged.box[0, 0].tolist() == [0, 2, 2, 4]
    assert merged.box[0, SKY].tolist() == [0, 0, 6, 2]
    # Depth inside a kernel's segment is that kernel's depth map.
    assert float(merged.median_depth[0, 0]) == 1.0 and float(merged.median_depth[0, SKY]) == SKY + 1.0


def test_pixels_no_mask_claims_fall_back_to_a_class() -> None:
    probs, logits, query_depth, dense = scene()
    probs[0, ROAD, 3, 5] = 0.2  # below the mask threshold everywhere
    logits[0, 0, int(TrainId.CAR)] = -3.0  # the car kernel now scores 0.05: dropped
    merged = merge_panoptic(CFG, probs, logits, query_depth, dense)
    slot = merged.slot[0]
    assert int(slot[3, 5]) == ROAD  # no mask reaches 0.5 there: the best-scoring kernel keeps it
    # The car pixels: the weaker car kernel survives now and takes them.
    assert bool((slot[2:4, 0:3] == 1).all())
    assert bool((merged.semantic[0] != 255).all())


def test_low_scoring_thing_kernels_claim_no_pixels() -> None:
    probs, logits, query_depth, dense = scene()
    probs[0, 1] = 0.0
    probs[0, ROAD, 2:4, 0:2] = 0.1
    logits[0, 0, int(TrainId.CAR)] = -1.5  # 0.18: below the thing score
    merged = merge_panoptic(CFG, probs, logits, query_depth, dense)
    assert bool((merged.slot[0, 2:4, 0:2] == ROAD).all())
    assert bool((merged.semantic[0, 2:4] == int(TrainId.ROAD)).all())
    assert bool((merged.depth[0, 2:4] == ROAD + 1.0).all())
