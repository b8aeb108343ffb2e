from __future__ import annotations

import torch
import torch.nn.functional as F

from vkstream.data.classes import TrainId
from vkstream.models import ModelConfig
from vkstream.models.panoptic import add_depth, merge_segments
from vkstream.models.segment_stats import segment_stats
from vkstream.models.upsample import BlockUpsampler

CFG = ModelConfig(num_thing_kernels=2)
NT, N = 2, CFG.num_kernels
ROAD = NT + CFG.stuff_classes.index(int(TrainId.ROAD))
SKY = NT + CFG.stuff_classes.index(int(TrainId.SKY))
S = CFG.mask_stride
IMAGE = (4 * S, 6 * S)  # the 4x6 grid covers a 16x24 image


def scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 4x6 mask grid: sky on top, road below, a confident car and a weaker car kernel overlapping it."""
    probs = torch.zeros(1, N, 4, 6)
    probs[0, SKY, :2] = 0.9
    probs[0, ROAD, 2:] = 0.9
    probs[0, ROAD, 2:, :3] = 0.7
    probs[0, 0, 2:4, 0:2] = 0.99  # car, score 0.98
    probs[0, 1, 2:4, 0:3] = 0.9  # second car kernel: 2 of its 6 cells visible -> dropped
    logits = torch.full((1, N, CFG.num_classes), -9.0)
    logits[0, 0, int(TrainId.CAR)] = 4.0
    logits[0, 1, int(TrainId.CAR)] = 2.5
    for k, c in enumerate(CFG.stuff_classes):
        logits[0, NT + k, c] = 2.0
    query_depth = torch.arange(N, dtype=torch.float32).view(1, N, 1, 1).expand(1, N, 4, 6) + 1.0
    dense = torch.full((1, 1, 4, 6), 50.0)
    return probs, logits, query_depth.contiguous(), dense


def mask_logits(probs: torch.Tensor) -> torch.Tensor:
    return torch.logit(probs.clamp(0.01, 0.99))


def cell(maps: torch.Tensor, row: int | slice, col: int | slice) -> torch.Tensor:
    """The pixels of [H,W] ``maps`` whose bilinear weight on the given cells is at least 7/8."""

    def middle(i: int | slice) -> slice:
        if isinstance(i, int):
            return slice(S * i + 1, S * i + S - 1)
        return slice(S * i.start + 1, S * i.stop - 1)

    return maps[middle(row), middle(col)]


def test_merge_assigns_every_pixel_and_follows_scores() -> None:
    probs, logits, query_depth, dense = scene()
    merged = add_depth(merge_segments(CFG, mask_logits(probs), logits, IMAGE), query_depth, dense)
    slot = merged.slot[0]
    assert slot.shape == IMAGE
    assert bool((cell(slot, slice(2, 4), slice(0, 2)) == 0).all())  # the car
    assert bool((cell(slot, slice(0, 2), slice(0, 6)) == SKY).all())
    # The second car kernel fails the overlap test: its remaining cells are an untracked car region.
    car_region = N + CFG.thing_classes.index(int(TrainId.CAR))
    assert bool((cell(slot, slice(2, 4), 2) == car_region).all())
    # Road also fails it (half its mask is covered) but a stuff class keeps its pixels.
    assert bool((cell(slot, slice(2, 4), slice(3, 6)) == ROAD).all())
    assert int(merged.thing_cells[0, 0]) == 4 and int(merged.thing_cells[0, 1]) == 0
    assert merged.thing_box[0, 0].tolist() == [0.0, 2 * S, 2 * S, 4 * S]
    semantic = merged.semantic[0]
    assert bool((cell(semantic, slice(2, 4), slice(0, 2)) == int(TrainId.CAR)).all())
    assert bool((semantic[: 2 * S] == int(TrainId.SKY)).all())
    # Depth inside a kernel's segment is that kernel's depth map; untracked regions take the dense map.
    assert bool((merged.depth[0][slot == 0] == 1.0).all())
    assert bool((merged.depth[0][slot == SKY] == SKY + 1.0).all())
    assert bool((merged.depth[0][slot == car_region] == 50.0).all())


def test_pixels_no_mask_claims_fall_back_to_a_class() -> None:
    probs, logits, _, _ = scene()
    probs[0, ROAD, 3, 5] = 0.2  # below the mask threshold
    logits[0, 0, int(TrainId.CAR)] = -3.0  # the car kernel now scores 0.05: dropped
    merged = merge_segments(CFG, mask_logits(probs), logits, IMAGE)
    slot = merged.slot[0]
    assert bool((cell(slot, 3, 5) == ROAD).all())  # no mask reaches 0.5: the best-scoring kernel keeps it
    # The car cells: the weaker car kernel survives now and takes them.
    assert bool((cell(slot, slice(2, 4), slice(0, 3)) == 1).all())
    assert bool((merged.semantic[0] != 255).all())


def test_low_scoring_thing_kernels_claim_no_pixels() -> None:
    probs, logits, query_depth, dense = scene()
    probs[0, 1] = 0.0
    probs[0, ROAD, 2:4, 0:2] = 0.5
    logits[0, 0, int(TrainId.CAR)] = -1.5  # 0.18: below the thing score
    merged = add_depth(merge_segments(CFG, mask_logits(probs), logits, IMAGE), query_depth, dense)
    lower = (slice(2, 4), slice(0, 6))
    assert bool((cell(merged.slot[0], *lower) == ROAD).all())
    assert bool((cell(merged.semantic[0], *lower) == int(TrainId.ROAD)).all())
    assert bool((cell(merged.depth[0], *lower) == ROAD + 1.0).all())


def test_a_grid_larger_than_the_image_counts_only_the_image_cells() -> None:
    probs, logits, _, _ = scene()
    merged = merge_segments(
        CFG, mask_logits(probs), logits, (4 * S - 2, 4 * S + 1)
    )  # crops rows 14-15, cols 17+
    assert merged.slot.shape == (1, 4 * S - 2, 4 * S + 1)
    assert int(merged.thing_cells[0, 0]) == 4
    assert merged.thing_grid.shape[-1] == 4 * 5  # cells holding image pixels: 4 rows, 5 columns
    assert int((merged.thing_grid[0] == 0).sum()) == 4


def blobby(b: int, n: int, h: int, w: int, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.sigmoid(F.avg_pool2d(torch.randn(b, n, h, w) * 3, 5, 1, 2) * 6)


def test_the_block_upsampler_equals_bilinear_upsampling() -> None:
    size = (45, 70)  # not a multiple of the stride: the crop matters
    up = BlockUpsampler(4, (12, 18), size)
    probs = blobby(2, 7, 12, 18, seed=1)
    full = F.interpolate(probs, scale_factor=4.0, mode="bilinear", align_corners=False)[..., :45, :70]
    choice = up.choose(probs, up.candidates(probs.topk(2, dim=1).indices))
    chosen = up.kernels(choice)
    # Every pixel takes its best candidate, and that is the best kernel overall almost everywhere.
    candidates = F.pad(probs.max(1).indices[:, None].float(), (1, 1, 1, 1), mode="replicate")[:, 0].long()
    assert candidates.shape[-2:] == (14, 20)
    agree = (chosen == full.argmax(1)).float().mean()
    assert float(agree) > 0.97
    assert bool((full.gather(1, chosen[:, None]) >= full.max(1, keepdim=True).values - 0.35).all())
    # Values of the chosen kernels' maps are exactly the bilinear ones.
    depth = torch.rand(2, 7, 12, 18) * 80
    full_depth = F.interpolate(depth, scale_factor=4.0, mode="bilinear", align_corners=False)[..., :45, :70]
    torch.testing.assert_close(up.values(depth, choice), full_depth.gather(1, chosen[:, None])[:, 0])
    torch.testing.assert_close(up.upsample(depth[:, :1]), full_depth[:, :1])


def test_segment_stats_equal_per_segment_masks() -> None:
    torch.manual_seed(4)
    slot = (torch.rand(2, 23, 31) * 5).long()
    slot[1] = torch.where(slot[1] == 3, 0, slot[1])  # slot 3 is empty in the second frame
    depth = torch.rand(2, 23, 31) * 60 + 0.5
    stats = segment_stats(slot, depth, 6)
    for b in range(2):
        for k in range(6):
            mask = slot[b] == k
            area = int(mask.sum())
            assert int(stats.area[b, k]) == area
            if not area:
                assert stats.box[b, k].tolist() == [0, 0, 0, 0] and float(stats.median_depth[b, k]) == 0.0
                continue
            ys, xs = torch.nonzero(mask, as_tuple=True)
            assert stats.box[b, k].tolist() == [
                int(xs.min()),
                int(ys.min()),
                int(xs.max()) + 1,
                int(ys.max()) + 1,
            ]
            assert float(stats.median_depth[b, k]) == float(depth[b][mask].sort().values[(area - 1) // 2])
            u = (xs.sort().values[(area - 1) // 2] + xs.sort().values[area // 2]).float() / 2
            v = (ys.sort().values[(area - 1) // 2] + ys.sort().values[area // 2]).float() / 2
            assert stats.center[b, k].tolist() == [float(u), float(v)]


def test_a_batch_merges_each_frame_as_it_would_alone() -> None:
    """The merge works on the kernels each frame keeps; frames keeping different numbers of thing
    kernels (padded in the batch with dropped ones) merge exactly as they do alone."""
    cfg = ModelConfig(num_thing_kernels=6)
    n = cfg.num_kernels
    probs = blobby(2, n, 6, 8, seed=3)
    torch.manual_seed(5)
    logits = torch.randn(2, n, cfg.num_classes) - 2.0
    car = int(TrainId.CAR)
    logits[:, :6] = -4.0
    logits[0, :6, car] = torch.tensor([2.0, -4.0, -4.0, -4.0, -4.0, -4.0])  # keeps one thing kernel
    logits[1, :6, car] = torch.tensor([2.0, 1.5, -4.0, 1.0, 3.0, -4.0])  # keeps four
    query_depth = torch.rand(2, n, 6, 8) * 80
    dense = torch.rand(2, 1, 6, 8) * 80
    size = (6 * S - 3, 8 * S - 1)
    batch = add_depth(merge_segments(cfg, mask_logits(probs), logits, size), query_depth, dense)
    for i in range(2):
        alone = add_depth(
            merge_segments(cfg, mask_logits(probs[i : i + 1]), logits[i : i + 1], size),
            query_depth[i : i + 1],
            dense[i : i + 1],
        )
        for name in (
            "slot",
            "semantic",
            "slot_class",
            "slot_score",
            "thing_cells",
            "thing_box",
            "thing_grid",
            "depth",
        ):
            assert torch.equal(getattr(batch, name)[i], getattr(alone, name)[0]), name
    scoring = (batch.slot_score[:, :6] >= cfg.merge.thing_score).sum(1).tolist()
    assert scoring == [1, 4]  # the frames' kept kernels differ in number
