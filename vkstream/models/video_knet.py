"""Video K-Net with depth queries: three separately placeable parts and the training losses."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vkstream.data.classes import VOID
from vkstream.models.backbone import BackboneNeck, padded_size
from vkstream.models.config import ModelConfig
from vkstream.models.depth_head import DepthHead
from vkstream.models.kernel_head import KernelHead, KernelStages
from vkstream.models.losses import (
    depth_loss,
    dice_loss,
    hungarian,
    mask_bce,
    match_cost,
    sigmoid_focal_loss,
    tracking_losses,
)
from vkstream.models.targets import FrameTargets


@dataclass
class _LowResTargets:
    """One frame's targets on the mask grid (padded input / mask stride), flattened."""

    masks: Tensor  # [M, P] soft
    valid: Tensor  # [P] 1 where mask losses count
    stuff_index: Tensor  # [P] index into the stuff kernels, -100 elsewhere


@dataclass
class _Assignment:
    pred: Tensor  # kernel indices
    gt: Tensor  # target segment indices


class VideoKNet(nn.Module):
    """Online Video K-Net: ``backbone_neck`` -> ``kernel_head`` -> ``depth_head``, tensors in and out.

    All maps the parts return cover the input padded to a multiple of 32, at ``cfg.mask_stride``;
    :meth:`to_input_size` brings them back to the input's pixels.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone_neck = BackboneNeck(cfg)
        self.kernel_head = KernelHead(cfg)
        self.depth_head = DepthHead(cfg)
        stuff = torch.full((max(cfg.num_classes, VOID + 1),), -100, dtype=torch.long)
        stuff[list(cfg.stuff_classes)] = torch.arange(len(cfg.stuff_classes))
        self.register_buffer("_stuff_index_of_class", stuff, persistent=False)

    def forward(self, images: Tensor, previous: Tensor, has_previous: Tensor) -> tuple[Tensor, ...]:
        """The three parts in a row: kernels, mask/class logits, embeddings, query depth, dense depth."""
        mask_feats, depth_feats = self.backbone_neck(images)
        kernels, masks, classes, embeddings = self.kernel_head(mask_feats, previous, has_previous)
        query_depth, dense_depth = self.depth_head(depth_feats, kernels, masks)
        return kernels, masks, classes, embeddings, query_depth, dense_depth

    def empty_previous(self, batch: int) -> Tensor:
        """Previous kernels for streams that have none (ignored where has_previous is False)."""
        p = self.kernel_head.init_kernels
        return p.new_zeros(batch, self.cfg.num_kernels, self.cfg.neck_channels)

    def to_input_size(self, maps: Tensor, size: tuple[int, int], mode: str = "bilinear") -> Tensor:
        """[B,N,h,w] maps on the padded mask grid -> [B,N,H,W] on the input's pixels."""
        s = self.cfg.mask_stride
        kwargs = {"align_corners": False} if mode == "bilinear" else {}
        up = F.interpolate(maps, scale_factor=float(s), mode=mode, **kwargs)
        return up[..., : size[0], : size[1]]

    # ---------------------------------------------------------------------------------------------
    # training

    def training_losses(
        self,
        key_images: Tensor,
        key_targets: list[FrameTargets],
        ref_images: Tensor,
        ref_targets: list[FrameTargets],
    ) -> dict[str, Tensor]:
        """Named, weighted scalar losses of a key frame and a reference frame per item; their sum is the loss.

        The key frame's kernels are linked to its reference frame's final kernels; the tracking
        loss pulls the embeddings of kernels matched to the same GT track together.
        """
        self._check_batch(key_images, key_targets, "key")
        self._check_batch(ref_images, ref_targets, "ref")
        if key_images.shape != ref_images.shape:
            raise ValueError(
                f"key images {tuple(key_images.shape)} and ref images {tuple(ref_images.shape)} differ"
            )
        b = key_images.shape[0]
        size = (int(key_images.shape[-2]), int(key_images.shape[-1]))
        mask_feats, depth_feats = self.backbone_neck(torch.cat([ref_images, key_images]))
        no_previous = torch.zeros(b, dtype=torch.bool, device=key_images.device)
        ref = self.kernel_head.forward_stages(mask_feats[:b], self.empty_previous(b), no_previous)
        key = self.kernel_head.forward_stages(mask_feats[b:], ref.kernels, ~no_previous)
        stages = _concat_stages(ref, key)
        targets = list(ref_targets) + list(key_targets)
        low = [self._low_res(t, size) for t in targets]

        losses = self._panoptic_losses(stages, targets, low)
        final = [self._assign(stages, i, len(stages.class_logits), targets[i], low[i]) for i in range(2 * b)]
        losses.update(self._tracking_losses(stages.embeddings, targets, final, b))
        maps, dense = self.depth_head.forward_stages(depth_feats, stages.kernels, stages.mask_logits[-1])
        losses.update(self._depth_losses(maps, dense, targets, final, size))
        return losses

    def _check_batch(self, images: Tensor, targets: list[FrameTargets], name: str) -> None:
        if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
            raise ValueError(
                f"{name} images must be float [B,3,H,W] RGB in 0..1, got {images.dtype} {tuple(images.shape)}"
            )
        if len(targets) != images.shape[0]:
            raise ValueError(f"{len(targets)} {name} targets for {images.shape[0]} {name} images")
        for t in targets:
            if tuple(t.semantic.shape) != tuple(images.shape[-2:]):
                raise ValueError(
                    f"{name} targets are {tuple(t.semantic.shape)}, the images {tuple(images.shape[-2:])}"
                )

    def _low_res(self, t: FrameTargets, size: tuple[int, int]) -> _LowResTargets:
        s = self.cfg.mask_stride
        hp, wp = padded_size(*size)
        pad = (0, wp - size[1], 0, hp - size[0])
        masks = (
            F.avg_pool2d(F.pad(t.masks.float(), pad).unsqueeze(1), s).flatten(1)
            if len(t.masks)
            else (torch.zeros(0, (hp // s) * (wp // s), device=t.masks.device))
        )
        ignore = F.avg_pool2d(F.pad(t.ignore.float(), pad, value=1.0)[None, None], s).flatten()
        semantic = F.pad(t.semantic, pad, value=VOID)[s // 2 :: s, s // 2 :: s].flatten()
        return _LowResTargets(masks, (ignore < 0.5).float(), self._stuff_index_of_class[semantic])

    def _assign(
        self, stages: KernelStages, frame: int, stage: int, t: FrameTargets, low: _LowResTargets
    ) -> _Assignment:
        """Hungarian matching of the thing kernels to thing segments; stuff kernels own their class."""
        nt = self.cfg.num_thing_kernels
        things = torch.nonzero(t.is_thing).flatten()
        stuff = torch.nonzero(~t.is_thing).flatten()
        classes = stages.class_logits[stage - 1][frame, :nt] if stage > 0 else None
        cost = match_cost(
            classes,
            stages.mask_logits[stage][frame, :nt].flatten(1),
            t.labels[things],
            low.masks[things],
            low.valid,
            self.cfg.losses,
        )
        rows, cols = hungarian(cost)
        stuff_kernels = nt + self._stuff_index_of_class[t.labels[stuff]]
        return _Assignment(torch.cat([rows, stuff_kernels]), torch.cat([things[cols], stuff]))

    def _panoptic_losses(
        self, stages: KernelStages, targets: list[FrameTargets], low: list[_LowResTargets]
    ) -> dict[str, Tensor]:
        w = self.cfg.losses
        losses: dict[str, Tensor] = {}
        for stage, mask_logits in enumerate(stages.mask_logits):
            focal, positives, bce, dice, matched = [], 0, [], [], 0
            for i, (t, lt) in enumerate(zip(targets, low, strict=True)):
                a = self._assign(stages, i, stage, t, lt)
                pred = mask_logits[i].flatten(1)[a.pred]
                bce.append(mask_bce(pred, lt.masks[a.gt], lt.valid).sum())
                dice.append(dice_loss(pred, lt.masks[a.gt], lt.valid).sum())
                matched += len(a.gt)
                if stage > 0:
                    logits = stages.class_logits[stage - 1][i]
                    onehot = torch.zeros_like(logits)
                    onehot[a.pred, t.labels[a.gt]] = 1.0
                    focal.append(sigmoid_focal_loss(logits, onehot, w.focal_alpha, w.focal_gamma))
                    positives += len(a.gt)
            losses[f"mask_{stage}"] = w.mask_bce * torch.stack(bce).sum() / max(matched, 1)
            losses[f"dice_{stage}"] = w.mask_dice * torch.stack(dice).sum() / max(matched, 1)
            if stage > 0:
                losses[f"cls_{stage}"] = w.cls * torch.stack(focal).sum() / max(positives, 1)
        stuff_logits = stages.mask_logits[0][:, self.cfg.num_thing_kernels :].flatten(2)
        semantic = torch.stack([lt.stuff_index for lt in low])
        if bool((semantic >= 0).any()):
            losses["semantic"] = w.semantic * F.cross_entropy(stuff_logits, semantic, ignore_index=-100)
        else:
            losses["semantic"] = stuff_logits.sum() * 0.0
        return losses

    def _tracking_losses(
        self, embeddings: Tensor, targets: list[FrameTargets], final: list[_Assignment], b: int
    ) -> dict[str, Tensor]:
        w = self.cfg.losses
        ces, l2s = [], []
        for i in range(b):
            ref_t, key_t = targets[i], targets[b + i]
            ref_a, key_a = final[i], final[b + i]
            ref_sel = ref_t.track_ids[ref_a.gt] > 0
            key_sel = key_t.track_ids[key_a.gt] > 0
            ref_ids = ref_t.track_ids[ref_a.gt[ref_sel]]
            key_ids = key_t.track_ids[key_a.gt[key_sel]]
            ce, l2 = tracking_losses(
                embeddings[b + i, key_a.pred[key_sel]],
                embeddings[i, ref_a.pred[ref_sel]],
                key_ids[:, None] == ref_ids[None, :],
            )
            ces.append(ce)
            l2s.append(l2)
        return {
            "track_ce": w.track_ce * torch.stack(ces).mean(),
            "track_l2": w.track_l2 * torch.stack(l2s).mean(),
        }

    def _depth_losses(
        self,
        maps: list[Tensor],
        dense: Tensor,
        targets: list[FrameTargets],
        final: list[_Assignment],
        size: tuple[int, int],
    ) -> dict[str, Tensor]:
        w = self.cfg.losses
        gt = torch.stack([t.depth for t in targets])
        valid = (gt > 0) & (gt < self.cfg.depth_max_m)
        dense_full = self.to_input_size(dense, size)[:, 0]
        losses = {"depth_dense": w.depth_dense * depth_loss(dense_full[valid], gt[valid])}
        # Query depth maps live on the mask grid, where they are supervised too: at each cell's centre
        # pixel, by the depth of the GT segment the query is matched to (a bilinear upsampling adds
        # nothing a loss could correct).
        st = self.cfg.mask_stride
        rows, cols = slice(st // 2, size[0], st), slice(st // 2, size[1], st)
        gt_grid, valid_grid = gt[:, rows, cols], valid[:, rows, cols]
        hr, wr = gt_grid.shape[-2:]
        per_stage = []
        for stage_maps in maps:
            preds, gts = [], []
            for i, (t, a) in enumerate(zip(targets, final, strict=True)):
                if len(a.pred) == 0:
                    continue
                gt_masks = t.masks[a.gt][:, rows, cols]
                composite = (stage_maps[i, a.pred, :hr, :wr] * gt_masks).sum(0)
                region = gt_masks.any(0) & valid_grid[i]
                preds.append(composite[region])
                gts.append(gt_grid[i][region])
            if preds:
                per_stage.append(depth_loss(torch.cat(preds), torch.cat(gts)))
        if per_stage:
            losses["depth_query"] = w.depth_query * torch.stack(per_stage).mean()
        else:
            losses["depth_query"] = maps[-1].sum() * 0.0
        return losses


def _concat_stages(a: KernelStages, b: KernelStages) -> KernelStages:
    return KernelStages(
        [torch.cat(pair) for pair in zip(a.mask_logits, b.mask_logits, strict=True)],
        [torch.cat(pair) for pair in zip(a.class_logits, b.class_logits, strict=True)],
        torch.cat([a.kernels, b.kernels]),
        torch.cat([a.embeddings, b.embeddings]),
    )
