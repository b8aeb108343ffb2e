"""The online tracker: detections against a fixed-capacity memory of tracks, vectorised over streams.

Everything stays on the model's device: one stream's memory is a set of [K,...] tensors with a
valid flag, and a batch of streams is the same tensors stacked to [B,K,...].
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from vkstream.models.config import ModelConfig
from vkstream.models.panoptic import PanopticBatch, bincount_per_item


@dataclass
class TrackMemory:
    """Tracks of one stream ([K,...]) or of a batch of streams ([B,K,...])."""

    ids: Tensor
    """long: track id of each slot (ids start at 1)."""
    embeddings: Tensor
    """float [.., K, E]: momentum-averaged association embeddings."""
    classes: Tensor
    """long: the track's class."""
    last_seen: Tensor
    """long: frame index of the track's last match."""
    valid: Tensor
    """bool: the slot holds a live track."""
    cells: Tensor
    """long [.., P]: the slot whose segment held each cell of the mask grid in the last frame (K for
    none); P = 0 unless mask IoU is used. One map, not a mask per track: mask IoU compares with the
    last frame only, whose segments are disjoint."""
    boxes: Tensor
    """float [.., K, 4]: the last matched box (x0, y0, x1, y1), for the motion gate."""
    next_id: Tensor
    """long [] (or [B]): the id the next new track gets."""

    @classmethod
    def empty(cls, cfg: ModelConfig, mask_pixels: int, device: torch.device) -> TrackMemory:
        k = cfg.tracker.capacity
        p = mask_pixels if cfg.tracks_masks else 0
        return cls(
            ids=torch.zeros(k, dtype=torch.long, device=device),
            embeddings=torch.zeros(k, cfg.embed_dim, device=device),
            classes=torch.zeros(k, dtype=torch.long, device=device),
            last_seen=torch.zeros(k, dtype=torch.long, device=device),
            valid=torch.zeros(k, dtype=torch.bool, device=device),
            cells=torch.full((p,), k, dtype=torch.long, device=device),
            boxes=torch.zeros(k, 4, device=device),
            next_id=torch.ones((), dtype=torch.long, device=device),
        )

    @classmethod
    def stack(cls, memories: list[TrackMemory]) -> TrackMemory:
        return cls(**{f.name: torch.stack([getattr(m, f.name) for m in memories]) for f in fields(cls)})

    def unbind(self) -> list[TrackMemory]:
        parts = {f.name: getattr(self, f.name).unbind(0) for f in fields(self)}
        return [
            TrackMemory(**{name: p[i].clone() for name, p in parts.items()}) for i in range(len(self.ids))
        ]


@dataclass
class Detections:
    """Candidate thing segments of a batch of frames, [B,D,...]."""

    valid: Tensor
    scores: Tensor
    classes: Tensor
    boxes: Tensor
    """float (x0, y0, x1, y1)."""
    embeddings: Tensor
    cells: Tensor
    """long [B,P]: the detection whose visible segment holds each cell of the mask grid (D for none),
    for mask-IoU matching (the tracker drops it when its settings use no mask IoU)."""

    @classmethod
    def from_merged(cls, merged: PanopticBatch, embeddings: Tensor) -> Detections:
        """The thing kernels that kept a segment in the merge, with their [B,N,E] embeddings."""
        nt = merged.thing_cells.shape[1]
        return cls(
            valid=merged.thing_cells > 0,
            scores=merged.slot_score[:, :nt],
            classes=merged.slot_class[:, :nt],
            boxes=merged.thing_box,
            embeddings=embeddings[:, :nt],
            cells=merged.thing_grid,
        )


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise IoU of [B,D,4] and [B,K,4] boxes -> [B,D,K]."""
    lt = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a[..., :, None] + area_b[..., None, :] - inter).clamp(min=1e-6)


def _priority(scores: Tensor) -> Tensor:
    """A unique rank per detection, higher for higher scores (ties: lower index first)."""
    d = scores.shape[-1]
    order = torch.argsort(-scores, dim=-1, stable=True)
    rank = torch.empty_like(order).scatter_(-1, order, torch.arange(d, device=scores.device).expand_as(order))
    return d - rank


def remove_duplicates(cfg: ModelConfig, det: Detections) -> Tensor:
    """Valid flags after dropping detections whose box overlaps a better one (QDTrack's thresholds)."""
    t = cfg.tracker
    priority = _priority(det.scores)
    better = priority[..., None, :] > priority[..., :, None]  # [B,i,j]: j ranks above i
    thr = torch.where(det.scores < t.det_score, t.dup_iou_low, t.dup_iou_high)
    overlap = box_iou(det.boxes, det.boxes) > thr[..., :, None]
    dup = (overlap & better & det.valid[..., None, :]).any(-1)
    return det.valid & ~dup


def centre_shift(det_boxes: Tensor, track_boxes: Tensor) -> Tensor:
    """[B,D,K] distance between box centres in box sizes (each axis over the larger of the two boxes)."""
    det_c = (det_boxes[..., :2] + det_boxes[..., 2:]) / 2
    trk_c = (track_boxes[..., :2] + track_boxes[..., 2:]) / 2
    size = torch.maximum(
        (det_boxes[..., :, None, 2:] - det_boxes[..., :, None, :2]),
        (track_boxes[..., None, :, 2:] - track_boxes[..., None, :, :2]),
    ).clamp(min=1.0)
    return ((det_c[..., :, None, :] - trk_c[..., None, :, :]) / size).norm(dim=-1)


def embedding_similarity(cfg: ModelConfig, det: Detections, memory: TrackMemory, frame: Tensor) -> Tensor:
    """[B,D,K] bi-softmax of the learned embeddings; zero for pairs of another class, an invalid side
    or outside the gates."""
    ok = _same_class(det, memory)
    logits = (det.embeddings @ memory.embeddings.transpose(-1, -2)).masked_fill(~_pairs(det, memory), -1e9)
    bisoftmax = (torch.softmax(logits, dim=-1) + torch.softmax(logits, dim=-2)) / 2
    # With one detection the column softmax is 1 whatever the embeddings: the cosine gate stops
    # a new object from taking a track it does not resemble.
    cosine = F.normalize(det.embeddings, dim=-1) @ F.normalize(memory.embeddings, dim=-1).transpose(-1, -2)
    ok &= cosine > cfg.tracker.min_cosine
    if cfg.tracker.max_shift > 0:
        # Objects do not jump: two cars of one model look alike, but only one can be near the
        # track's last box. The allowance grows with the frames the track went unseen.
        gap = (frame[:, None] - memory.last_seen).clamp(min=1).to(det.boxes.dtype)
        ok &= centre_shift(det.boxes, memory.boxes) <= cfg.tracker.max_shift * gap[..., None, :]
    return torch.where(ok, bisoftmax, torch.zeros_like(bisoftmax))


def mask_iou_similarity(det: Detections, memory: TrackMemory, frame: Tensor) -> Tensor:
    """[B,D,K] IoU of each detection's visible segment with the segments of the previous frame's tracks.

    Segments of one frame are disjoint, so every intersection is one bin of the joint histogram of
    the two frames' cell maps: O(P), where comparing masks pairwise is O(D K P).
    """
    d, k = det.valid.shape[-1], memory.valid.shape[-1]
    joint = bincount_per_item(det.cells * (k + 1) + memory.cells, (d + 1) * (k + 1))
    joint = joint.view(-1, d + 1, k + 1).float()
    inter = joint[:, :d, :k]
    union = joint.sum(2)[:, :d, None] + joint.sum(1)[:, None, :k] - inter
    iou = inter / union.clamp(min=1.0)
    ok = _same_class(det, memory) & (memory.last_seen == (frame[:, None] - 1))[..., None, :]
    return torch.where(ok, iou, torch.zeros_like(iou))


def _pairs(det: Detections, memory: TrackMemory) -> Tensor:
    return det.valid[..., :, None] & memory.valid[..., None, :]


def _same_class(det: Detections, memory: TrackMemory) -> Tensor:
    return _pairs(det, memory) & (det.classes[..., :, None] == memory.classes[..., None, :])


def greedy_assign(sim: Tensor, eligible: Tensor, priority: Tensor, threshold: float, rounds: int) -> Tensor:
    """Each eligible detection takes its best free track above ``threshold``; better detections win ties.

    A fixed number of rounds of QDTrack's score-ordered greedy matching, done for all detections at
    once. Returns the matched slot per detection, -1 for none.
    """
    b, d, k = sim.shape
    slot = torch.full((b, d), -1, dtype=torch.long, device=sim.device)
    taken = torch.zeros(b, k + 1, dtype=torch.bool, device=sim.device)  # last column: a dump for losers
    # A round without claims changes nothing, nor do the rounds after it. Asking costs a CPU nothing
    # (and saves the rest of the rounds' small ops), a GPU a wait for its queue: there, all rounds run.
    stop_early = sim.device.type == "cpu"
    for _ in range(rounds):
        free_sim = sim.masked_fill(taken[:, None, :k], 0.0)
        best, arg = free_sim.max(-1)
        claim = eligible & (slot < 0) & (best > threshold)
        if stop_early and not bool(claim.any()):
            break
        claim_priority = torch.where(claim, priority, torch.zeros_like(priority))
        top = torch.zeros(b, k, dtype=priority.dtype, device=sim.device)
        top = top.scatter_reduce(1, arg, claim_priority, reduce="amax")
        win = claim & (top.gather(1, arg) == priority)
        slot = torch.where(win, arg, slot)
        taken = taken | torch.zeros_like(taken).scatter(1, torch.where(win, arg, k), True)
    return slot


def match(
    cfg: ModelConfig, det: Detections, memory: TrackMemory, frame: Tensor, eligible: Tensor, priority: Tensor
) -> Tensor:
    """The memory slot each detection continues ([B,D], -1 for none), in the configured stages.

    Mask IoU ("K-Net + IoU") compares with the last frame's segments only. The learned association
    may first let each detection keep the last frame's track its mask overlaps (``iou_first``): an
    object that barely moved is the same object, whatever its embedding says, and embeddings are best
    spent where overlap cannot help, on objects that moved far or were missed for a few frames. With
    ``cascade``, the tracks seen in the last frame then take their detections before the older ones
    compete for the rest (DeepSORT's matching cascade): a track missed for a few frames has a stale
    embedding and box and should not take over an object another track is following.
    """
    t = cfg.tracker
    if cfg.association == "mask_iou":
        return greedy_assign(
            mask_iou_similarity(det, memory, frame), eligible, priority, t.mask_iou, t.rounds
        )
    slot = torch.full_like(priority, -1)
    if t.iou_first > 0:
        slot = greedy_assign(
            mask_iou_similarity(det, memory, frame), eligible, priority, t.iou_first, t.rounds
        )
    recent = memory.last_seen == (frame[:, None] - 1)
    for group in (recent, ~recent) if t.cascade else (torch.ones_like(recent),):
        free = replace(memory, valid=memory.valid & group & ~_taken(slot, memory))
        rest = replace(det, valid=det.valid & (slot < 0))
        later = greedy_assign(
            embedding_similarity(cfg, rest, free, frame),
            rest.valid & eligible,
            priority,
            t.match_score,
            t.rounds,
        )
        slot = torch.where(slot >= 0, slot, later)
    return slot


def _slot_cells(det: Detections, det_slot: Tensor, k: int) -> Tensor:
    """[B,P] this frame's cell map in memory slots (K where no track holds the cell)."""
    lookup = torch.cat([det_slot, det_slot.new_full((det_slot.shape[0], 1), -1)], dim=1)
    slots = lookup.gather(1, det.cells)
    return torch.where(slots >= 0, slots, torch.full_like(slots, k))


def _taken(slot: Tensor, memory: TrackMemory) -> Tensor:
    """[B,K] the memory slots some detection already continues."""
    k = memory.valid.shape[-1]
    taken = torch.zeros(slot.shape[0], k + 1, dtype=torch.bool, device=slot.device)
    return taken.scatter(1, torch.where(slot >= 0, slot, k), True)[:, :k]


def track(
    cfg: ModelConfig, det: Detections, memory: TrackMemory, frame: Tensor
) -> tuple[Tensor, TrackMemory]:
    """Associate a batch's detections with their streams' memories.

    Returns the track id of each detection ([B,D], 0 = none) and the updated memories.
    """
    t = cfg.tracker
    b, d = det.scores.shape
    k = memory.ids.shape[1]
    memory = replace(memory, valid=memory.valid & (frame[:, None] - memory.last_seen <= t.memory_frames))
    det = replace(
        det,
        valid=remove_duplicates(cfg, det),
        cells=det.cells if cfg.tracks_masks else det.cells[..., :0],  # as the memory's cell map
    )
    priority = _priority(det.scores)

    eligible = det.valid & (det.scores > t.det_score)
    slot = match(cfg, det, memory, frame, eligible, priority)
    matched = slot >= 0

    new = det.valid & ~matched & (det.scores > t.new_score)
    new_rank = torch.cumsum(new.long(), dim=1) - 1
    new_ids = memory.next_id[:, None] + new_rank
    ids = torch.where(matched, memory.ids.gather(1, slot.clamp(min=0)), torch.zeros_like(slot))
    ids = torch.where(new, new_ids, ids)
    next_id = memory.next_id + new.sum(1)

    # New tracks go to free slots first, then replace the longest-unseen tracks; slots matched in
    # this frame are never replaced.
    used = _taken(slot, memory)
    age_key = torch.where(memory.valid, memory.last_seen, torch.full_like(memory.last_seen, -1))
    age_key = torch.where(used, torch.full_like(age_key, torch.iinfo(torch.long).max), age_key)
    order = torch.argsort(age_key, dim=1, stable=True)
    target = order.gather(1, new_rank.clamp(min=0, max=k - 1))
    placeable = new & (new_rank < (~used).sum(1, keepdim=True))
    det_slot = torch.where(matched, slot, torch.where(placeable, target, torch.full_like(slot, -1)))

    owner = torch.full((b, k + 1), -1, dtype=torch.long, device=slot.device)
    owner = owner.scatter(
        1, torch.where(det_slot >= 0, det_slot, k), torch.arange(d, device=slot.device).expand(b, d)
    )
    owner = owner[:, :k]
    has = owner >= 0
    src = owner.clamp(min=0)
    was_matched = has & used
    det_emb = det.embeddings.gather(1, src[..., None].expand(-1, -1, det.embeddings.shape[-1]))
    mixed = t.momentum * det_emb + (1 - t.momentum) * memory.embeddings
    updated = TrackMemory(
        ids=torch.where(has, ids.gather(1, src), memory.ids),
        embeddings=torch.where(
            was_matched[..., None], mixed, torch.where(has[..., None], det_emb, memory.embeddings)
        ),
        classes=torch.where(has, det.classes.gather(1, src), memory.classes),
        last_seen=torch.where(has, frame[:, None].expand(b, k), memory.last_seen),
        valid=memory.valid | has,
        cells=_slot_cells(det, det_slot, k),
        boxes=torch.where(
            has[..., None], det.boxes.gather(1, src[..., None].expand(-1, -1, 4)), memory.boxes
        ),
        next_id=next_id,
    )
    return ids, updated
