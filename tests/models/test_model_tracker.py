from __future__ import annotations

import torch

from vkstream.models import ModelConfig, TrackMemory
from vkstream.models.tracker import Detections, track

E = 8


def memory(cfg: ModelConfig, batch: int = 1, pixels: int = 0) -> TrackMemory:
    return TrackMemory.stack([TrackMemory.empty(cfg, pixels, torch.device("cpu")) for _ in range(batch)])


def detections(
    embeddings: torch.Tensor, scores: list[float], classes: list[int], boxes=None, masks=None
) -> Detections:
    d = embeddings.shape[0]
    if boxes is None:  # far-apart boxes: no duplicates
        boxes = torch.tensor([[20.0 * i, 0.0, 20.0 * i + 10, 10.0] for i in range(d)])
    return Detections(
        valid=torch.ones(1, d, dtype=torch.bool),
        scores=torch.tensor([scores]),
        classes=torch.tensor([classes]),
        boxes=boxes[None],
        embeddings=embeddings[None],
        cells=cell_map(masks if masks is not None else torch.zeros(d, 0))[None],
    )


def cell_map(masks: torch.Tensor) -> torch.Tensor:
    """Disjoint [D,P] 0/1 masks -> the [P] map of the detection holding each cell (D for none)."""
    d, p = masks.shape
    owner = torch.full((p,), d, dtype=torch.long)
    for i, mask in enumerate(masks):
        owner[mask > 0] = i
    return owner


def cfg_with(association: str = "embedding") -> ModelConfig:
    return ModelConfig(embed_dim=E, association=association, tracker={"capacity": 8})


def distinct_embeddings(n: int) -> torch.Tensor:
    return torch.eye(E)[:n] * 10.0


def test_static_scene_keeps_ids_and_a_new_object_gets_a_new_id() -> None:
    cfg = cfg_with()
    mem = memory(cfg)
    emb = distinct_embeddings(3)
    ids, mem = track(cfg, detections(emb[:2], [0.9, 0.8], [13, 11]), mem, torch.tensor([0]))
    assert ids.tolist() == [[1, 2]]
    for frame in range(1, 4):
        ids, mem = track(cfg, detections(emb[:2], [0.9, 0.8], [13, 11]), mem, torch.tensor([frame]))
        assert ids.tolist() == [[1, 2]]
    # Reordered detections keep their identities; a third object is new.
    ids, mem = track(cfg, detections(emb[[2, 1, 0]], [0.9, 0.8, 0.7], [13, 11, 13]), mem, torch.tensor([4]))
    assert ids.tolist() == [[3, 2, 1]]
    assert int(mem.next_id[0]) == 4


def test_low_scores_start_no_track_and_classes_must_agree() -> None:
    cfg = cfg_with()
    mem = memory(cfg)
    emb = distinct_embeddings(2)
    ids, mem = track(cfg, detections(emb, [0.9, 0.32], [13, 13]), mem, torch.tensor([0]))
    assert ids.tolist() == [[1, 0]]  # 0.32 is below the new-track score
    ids, mem = track(cfg, detections(emb[:1], [0.9], [11]), mem, torch.tensor([1]))
    assert ids.tolist() == [[2]]  # same embedding, other class: a new track


def test_tracks_expire_after_the_memory_length() -> None:
    cfg = cfg_with()
    mem = memory(cfg)
    emb = distinct_embeddings(2)
    _, mem = track(cfg, detections(emb[:1], [0.9], [13]), mem, torch.tensor([0]))
    none = detections(emb[1:], [0.1], [13])  # a detection too weak to track
    for frame in range(1, 6):
        _, mem = track(cfg, none, mem, torch.tensor([frame]))
    ids, mem = track(cfg, detections(emb[:1], [0.9], [13]), mem, torch.tensor([5]))
    assert ids.tolist() == [[1]]  # unseen for 5 frames: still remembered
    for frame in range(6, 12):
        _, mem = track(cfg, none, mem, torch.tensor([frame]))
    ids, _ = track(cfg, detections(emb[:1], [0.9], [13]), mem, torch.tensor([12]))
    assert ids.tolist() == [[2]]


def test_duplicate_boxes_are_removed() -> None:
    cfg = cfg_with()
    boxes = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 11], [50.0, 0, 60, 10]])
    ids, _ = track(
        cfg,
        detections(distinct_embeddings(3), [0.9, 0.8, 0.7], [13, 13, 11], boxes),
        memory(cfg),
        torch.tensor([0]),
    )
    assert ids.tolist() == [[1, 0, 2]]


def test_two_detections_never_share_a_track() -> None:
    cfg = cfg_with()
    emb = distinct_embeddings(1)
    _, mem = track(cfg, detections(emb, [0.9], [13]), memory(cfg), torch.tensor([0]))
    ids, _ = track(cfg, detections(emb.repeat(2, 1), [0.6, 0.9], [13, 13]), mem, torch.tensor([1]))
    assert ids.tolist() == [[2, 1]]  # the better detection continues the track


def test_a_full_memory_replaces_the_longest_unseen_track() -> None:
    cfg = ModelConfig(embed_dim=E, tracker={"capacity": 2})
    emb = distinct_embeddings(3)
    mem = memory(cfg)
    _, mem = track(cfg, detections(emb[:2], [0.9, 0.9], [13, 13]), mem, torch.tensor([0]))
    _, mem = track(cfg, detections(emb[1:2], [0.9], [13]), mem, torch.tensor([1]))
    ids, mem = track(cfg, detections(emb[2:], [0.9], [13]), mem, torch.tensor([2]))
    assert ids.tolist() == [[3]]
    assert sorted(mem.ids[0].tolist()) == [2, 3]


def test_streams_in_one_batch_keep_separate_memories() -> None:
    cfg = cfg_with()
    emb = distinct_embeddings(2)
    mem = memory(cfg, batch=2)
    both = Detections(
        valid=torch.tensor([[True, True], [True, False]]),
        scores=torch.tensor([[0.9, 0.9], [0.9, 0.9]]),
        classes=torch.full((2, 2), 13),
        boxes=torch.tensor([[0.0, 0, 10, 10], [50.0, 0, 60, 10]]).expand(2, 2, 4),
        embeddings=emb.expand(2, 2, E),
        cells=torch.zeros(2, 0, dtype=torch.long),
    )
    ids, mem = track(cfg, both, mem, torch.tensor([0, 0]))
    assert ids.tolist() == [[1, 2], [1, 0]]
    ids, mem = track(cfg, both, mem, torch.tensor([1, 1]))
    assert ids.tolist() == [[1, 2], [1, 0]]
    assert mem.next_id.tolist() == [3, 2]


def test_mask_iou_association_follows_overlapping_masks() -> None:
    cfg = cfg_with("mask_iou")
    grid = torch.zeros(3, 4, 4)
    grid[0, :2, :2] = 1
    grid[1, 2:, 2:] = 1
    grid[2, :2, 2:] = 1
    masks = grid.flatten(1)
    emb = torch.zeros(3, E)  # embeddings are unused
    mem = memory(cfg, pixels=16)
    ids, mem = track(cfg, detections(emb[:2], [0.9, 0.9], [13, 13], masks=masks[:2]), mem, torch.tensor([0]))
    assert ids.tolist() == [[1, 2]]
    moved = masks[[1, 0]].clone()
    moved[1, 2] = 1  # object 1 grows by a pixel: IoU 4/5
    ids, mem = track(cfg, detections(emb[:2], [0.9, 0.9], [13, 13], masks=moved), mem, torch.tensor([1]))
    assert ids.tolist() == [[2, 1]]
    ids, _ = track(cfg, detections(emb[:1], [0.9], [13], masks=masks[2:]), mem, torch.tensor([2]))
    assert ids.tolist() == [[3]]  # no overlap: new object


def box_at(x: float, width: float = 10.0) -> torch.Tensor:
    return torch.tensor([[x, 0.0, x + width, 10.0]])


def test_the_motion_gate_keeps_a_look_alike_from_taking_a_far_track() -> None:
    emb = distinct_embeddings(1)
    for max_shift, far_id in ((0.0, 1), (1.0, 2)):  # 0: no gate, the reference's behaviour
        cfg = ModelConfig(embed_dim=E, tracker={"capacity": 8, "max_shift": max_shift})
        _, mem = track(cfg, detections(emb, [0.9], [13], box_at(0)), memory(cfg), torch.tensor([0]))
        ids, mem = track(cfg, detections(emb, [0.9], [13], box_at(5)), mem, torch.tensor([1]))
        assert ids.tolist() == [[1]]  # half a box away: the same object
        ids, _ = track(cfg, detections(emb, [0.9], [13], box_at(40)), mem, torch.tensor([2]))
        assert ids.tolist() == [[far_id]]  # 3.5 boxes away in one frame: another object of that look


def test_the_motion_gate_allows_more_shift_after_frames_unseen() -> None:
    cfg = ModelConfig(embed_dim=E, tracker={"capacity": 8, "max_shift": 1.0})
    emb = distinct_embeddings(2)
    _, mem = track(cfg, detections(emb[:1], [0.9], [13], box_at(0)), memory(cfg), torch.tensor([0]))
    weak = detections(emb[1:], [0.1], [13], box_at(200))
    for frame in (1, 2):  # unseen for two frames
        _, mem = track(cfg, weak, mem, torch.tensor([frame]))
    ids, _ = track(cfg, detections(emb[:1], [0.9], [13], box_at(25)), mem, torch.tensor([3]))
    assert ids.tolist() == [[1]]  # 2.5 boxes in 3 frames: within 1 box per frame


def test_the_cascade_lets_the_track_of_the_last_frame_keep_its_object() -> None:
    # Track 1 was last seen two frames ago, track 2 in the last frame. The detection resembles both,
    # track 1 a little more: all at once track 1 takes it, in the cascade track 2 keeps it.
    emb = distinct_embeddings(2)
    detection = 0.75 * emb[0:1] + 0.66 * emb[1:2]
    for cascade, expected in ((False, 1), (True, 2)):
        cfg = ModelConfig(embed_dim=E, tracker={"capacity": 8, "cascade": cascade})
        _, mem = track(cfg, detections(emb[:1], [0.9], [13], box_at(0)), memory(cfg), torch.tensor([0]))
        ids, mem = track(cfg, detections(emb[1:2], [0.9], [13], box_at(50)), mem, torch.tensor([1]))
        assert ids.tolist() == [[2]]  # unlike track 1: a new track
        ids, _ = track(cfg, detections(detection, [0.9], [13], box_at(50)), mem, torch.tensor([2]))
        assert ids.tolist() == [[expected]]


def cells(*on: int, pixels: int = 16) -> torch.Tensor:
    """A visible mask on a 16-cell grid with the given cells set."""
    mask = torch.zeros(pixels)
    mask[list(on)] = 1.0
    return mask


def test_iou_first_keeps_an_overlapping_object_whose_embedding_changed() -> None:
    # The object of track 1 turns and its embedding flips to another look; its mask barely moved.
    # Embeddings alone start a new track; with iou_first the overlap keeps track 1.
    emb = distinct_embeddings(2)
    for iou_first, expected in ((0.0, 2), (0.2, 1)):
        cfg = ModelConfig(embed_dim=E, tracker={"capacity": 8, "iou_first": iou_first})
        assert cfg.tracks_masks is (iou_first > 0)
        pixels = 16 if cfg.tracks_masks else 0
        first = detections(emb[:1], [0.9], [13], masks=cells(0, 1, 2, 3)[None, :pixels])
        _, mem = track(cfg, first, memory(cfg, pixels=pixels), torch.tensor([0]))
        moved = detections(emb[1:2], [0.9], [13], masks=cells(2, 3, 4, 5)[None, :pixels])  # IoU 1/3
        ids, _ = track(cfg, moved, mem, torch.tensor([1]))
        assert ids.tolist() == [[expected]]


def test_iou_first_leaves_the_other_tracks_to_the_embeddings() -> None:
    # Two tracks. Detection A overlaps track 1's mask; detection B overlaps nothing but looks like
    # track 2. A takes track 1 by overlap although it looks like track 2; B then takes track 2 by
    # its embedding, which A's overlap match no longer competes for.
    emb = distinct_embeddings(2)
    cfg = ModelConfig(embed_dim=E, tracker={"capacity": 8, "iou_first": 0.2})
    first = detections(emb, [0.9, 0.8], [13, 13], masks=torch.stack([cells(0, 1), cells(8, 9)]))
    ids, mem = track(cfg, first, memory(cfg, pixels=16), torch.tensor([0]))
    assert ids.tolist() == [[1, 2]]
    later = detections(emb[[1, 1]], [0.9, 0.8], [13, 13], masks=torch.stack([cells(0, 1), cells(14, 15)]))
    ids, mem = track(cfg, later, mem, torch.tensor([1]))
    assert ids.tolist() == [[1, 2]]
    # Overlap counts only against the last frame: track 1, missed for a frame, is left to embeddings.
    weak = detections(emb[:1], [0.1], [13], masks=cells(7)[None])
    _, mem = track(cfg, weak, mem, torch.tensor([2]))
    stale = detections(emb[:1] * 0.1, [0.9], [13], masks=cells(0, 1)[None])
    ids, _ = track(cfg, stale, mem, torch.tensor([3]))
    assert ids.tolist() == [[3]]  # overlaps track 1's last mask, but two frames old and unlike it
