"""Ground truth of one frame as the segments the kernels are trained to predict."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from vkstream.data.classes import VOID
from vkstream.models.config import ModelConfig


@dataclass
class FrameTargets:
    """One frame's panoptic segments, semantic map and depth, on one device.

    Stuff segments come first in class order, then thing instances in instance-id order.
    """

    labels: Tensor
    """LongTensor[M]: train class id of each segment."""
    masks: Tensor
    """BoolTensor[M, H, W]."""
    track_ids: Tensor
    """LongTensor[M]: the GT instance id of thing segments, 0 for stuff."""
    semantic: Tensor
    """LongTensor[H, W]: train ids, 255 = void."""
    depth: Tensor
    """FloatTensor[H, W]: metres, 0 = no measurement."""
    ignore: Tensor
    """BoolTensor[H, W]: pixels no mask loss sees (void, and crowd: a thing class without instance id)."""

    @property
    def is_thing(self) -> Tensor:
        """BoolTensor[M]: segments with a track id."""
        return self.track_ids > 0

    def to(self, device: torch.device | str) -> FrameTargets:
        return FrameTargets(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def build_targets(semantic: Tensor, instance: Tensor, depth: Tensor | None, cfg: ModelConfig) -> FrameTargets:
    """Segments of a frame: one per stuff class present and one per thing instance.

    ``semantic`` holds train ids (255 = void), ``instance`` the instance ids (0 = none), ``depth``
    metres (0 = none; None when the data has no depth).
    """
    if semantic.ndim != 2 or instance.shape != semantic.shape:
        raise ValueError(
            f"semantic and instance must be two HxW maps of one size, got {tuple(semantic.shape)} "
            f"and {tuple(instance.shape)}"
        )
    if depth is not None and depth.shape != semantic.shape:
        raise ValueError(f"depth is {tuple(depth.shape)} but the labels are {tuple(semantic.shape)}")
    semantic = semantic.long()
    instance = instance.long()
    bad = (semantic >= cfg.num_classes) & (semantic != VOID)
    if bool(bad.any()):
        raise ValueError(
            f"semantic map holds class {int(semantic[bad][0])}; the model has {cfg.num_classes} classes"
        )
    things = torch.tensor(cfg.thing_classes, device=semantic.device)
    is_thing_px = torch.isin(semantic, things)
    crowd = is_thing_px & (instance == 0)
    void = semantic == VOID

    labels: list[int] = []
    track_ids: list[int] = []
    masks: list[Tensor] = []
    present = set(torch.unique(semantic).tolist())
    for cls in cfg.stuff_classes:
        if cls in present:
            labels.append(cls)
            track_ids.append(0)
            masks.append(semantic == cls)
    thing_instances = instance[is_thing_px & (instance > 0)]
    for inst in torch.unique(thing_instances).tolist():
        mask = (instance == inst) & is_thing_px
        # An instance id is one object; its majority class names it should the labels disagree.
        cls = int(torch.mode(semantic[mask]).values)
        labels.append(cls)
        track_ids.append(int(inst))
        masks.append(mask)

    h, w = semantic.shape
    device = semantic.device
    return FrameTargets(
        labels=torch.tensor(labels, dtype=torch.long, device=device),
        masks=torch.stack(masks) if masks else torch.zeros(0, h, w, dtype=torch.bool, device=device),
        track_ids=torch.tensor(track_ids, dtype=torch.long, device=device),
        semantic=semantic,
        depth=(depth.float() if depth is not None else torch.zeros(h, w, device=device)),
        ignore=crowd | void,
    )
