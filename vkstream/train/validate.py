"""Validation on held-out sequences: the online model frame by frame, scored as the runtime would be.

Mean IoU and depth abs-rel are computed here; STQ and DSTQ come from ``vkstream.eval``, so a training
run reports what ``vkstream eval`` would report on its predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
import torch

from vkstream.data import NUM_CLASSES, VOID, Frame, SequenceDataset
from vkstream.eval import Evaluator
from vkstream.models import OnlineVideoKNet, VideoKNet
from vkstream.train.online import predict_sequence

MAX_DEPTH_M = 80.0
"""Depth beyond this is not scored, as in the reference depth metrics."""


@dataclass
class SegmentationDepthMeter:
    """Accumulates a class confusion matrix and depth abs-rel over frames."""

    num_classes: int = NUM_CLASSES
    confusion: np.ndarray = field(init=False)
    abs_rel_sum: float = 0.0
    depth_pixels: int = 0

    def __post_init__(self) -> None:
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, gt: Frame, pred: Frame) -> None:
        if gt.semantic is not None and pred.semantic is not None:
            labelled = gt.semantic != VOID
            truth = gt.semantic[labelled].astype(np.int64)
            guess = np.minimum(pred.semantic[labelled].astype(np.int64), self.num_classes - 1)
            pairs = np.bincount(truth * self.num_classes + guess, minlength=self.num_classes**2)
            self.confusion += pairs.reshape(self.num_classes, self.num_classes)
        if gt.depth is not None and pred.depth is not None:
            valid = (gt.depth > 0) & (gt.depth <= MAX_DEPTH_M)
            truth_m = gt.depth[valid].astype(np.float64)
            self.abs_rel_sum += float(np.sum(np.abs(pred.depth[valid] - truth_m) / truth_m))
            self.depth_pixels += int(valid.sum())

    def iou(self) -> np.ndarray:
        """IoU per class; NaN for classes absent from both ground truth and prediction."""
        hits = np.diag(self.confusion).astype(np.float64)
        union = self.confusion.sum(0) + self.confusion.sum(1) - hits
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, hits / union, np.nan)

    def result(self) -> dict[str, float]:
        iou = self.iou()
        out = {"miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else 0.0}
        if self.depth_pixels:
            out["depth_abs_rel"] = self.abs_rel_sum / self.depth_pixels
        return out


def _stream_evaluator(model: VideoKNet) -> Evaluator:
    cfg = model.cfg
    return Evaluator(metrics=("stq", "dstq"), num_classes=cfg.num_classes, thing_ids=cfg.thing_classes)


def validate(
    model: VideoKNet,
    sources: Sequence[tuple[SequenceDataset, Sequence[str]]],
    device: torch.device,
    max_frames: int | None = None,
) -> dict[str, float]:
    """mIoU, depth abs-rel and STQ, AQ, SQ, DSTQ, DQ over the given sequences.

    Each sequence is one stream from its first frame; ``max_frames`` keeps the first frames only.
    """
    was_training = model.training
    model.eval()
    online = OnlineVideoKNet(model)
    meter = SegmentationDepthMeter(model.cfg.num_classes)
    evaluator = _stream_evaluator(model)
    frames = 0
    try:
        for dataset, sequences in sources:
            for sequence in sequences:
                gt_frames = islice(dataset.frames(sequence), max_frames)
                for gt, pred in predict_sequence(online, gt_frames, device):
                    meter.update(gt, pred)
                    evaluator.update(gt, pred, sequence_id=f"{dataset.root}:{sequence}")
                    frames += 1
    finally:
        model.train(was_training)
    result = meter.result()
    if frames:
        result.update({name: float(value) for name, value in evaluator.result().total.items()})
    result["frames"] = frames
    return result
