"""One entry point for every metric: validate a (ground truth, prediction) frame pair once, score it.

Online use (the runtime scores replays while they run) calls :meth:`Evaluator.update` per frame;
offline use (``vkstream eval``) does the same per file pair. States of disjoint sets of sequences,
scored in separate processes, combine with :meth:`Evaluator.merge`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import get_args

import cv2
import numpy as np

from vkstream.data.classes import CLASS_NAMES, NUM_CLASSES, THING_IDS, VOID
from vkstream.data.frame import Frame
from vkstream.eval.codes import INSTANCE_RANGE, SegmentCodes
from vkstream.eval.diagnostics import Diagnostics
from vkstream.eval.errors import EvalError
from vkstream.eval.result import EvalResult, build_result
from vkstream.eval.stq import PredOnVoid, SegmentationTrackingQuality
from vkstream.eval.vpq import ClassMean, VideoPanopticQuality

METRICS = ("stq", "dstq", "vpq", "dvpq")
DEPTH_METRICS = frozenset({"dstq", "dvpq"})
DEFAULT_DQ_THRESHOLDS = (1.25, 1.1)
DEFAULT_VPQ_WINDOWS = (1, 2, 3, 4)
DEFAULT_DVPQ_LAMBDAS = (0.5, 0.25, 0.1)
DVPQ_WINDOWS_BY_LAYOUT = {"semkitti-dvps": (1, 5, 10, 20)}
"""DVPQ window sizes as published per dataset; others use 1-4 (Cityscapes-DVPS)."""
DEFAULT_CLASS_MEAN: dict[str, ClassMean] = {"vpq": "present", "dvpq": "all"}
"""The class mean of each metric's official script: VPSNet's eval_vpq averages the classes present,
ViP-DeepLab's eval_dvpq (the SemKITTI-DVPS and Cityscapes-DVPS benchmarks) all of them."""


def parse_metrics(names: str | Iterable[str]) -> tuple[str, ...]:
    """Metric names in canonical order, from ``"stq,dvpq"`` or an iterable; unknown names raise."""
    items = names.split(",") if isinstance(names, str) else list(names)
    wanted = [item.strip().lower() for item in items if item.strip()]
    unknown = sorted(set(wanted) - set(METRICS))
    if unknown or not wanted:
        raise EvalError(f"unknown metrics {unknown or names!r}: choose from {', '.join(METRICS)}")
    return tuple(m for m in METRICS if m in wanted)


class Evaluator:
    """Streaming STQ, DSTQ, VPQ and DVPQ over any number of sequences.

    ``pred_on_void`` picks the AQ variant where the references differ: ``"count"`` (default, as
    deeplab2's STQ, the KITTI-STEP benchmark code) keeps predicted thing pixels that lie on
    ground-truth void in the predicted track's size; ``"ignore"`` (ViP-DeepLab's DSTQ script)
    drops them first. ``class_mean`` makes VPQ and DVPQ average over the classes present or over all
    classes (None: each as its official script, :data:`DEFAULT_CLASS_MEAN`). ``diagnostics`` adds
    per-class IoU and PQ, AQ by track size, the untracked share and id switches
    (:mod:`vkstream.eval.diagnostics`) to the result.
    """

    def __init__(
        self,
        metrics: str | Iterable[str] = ("stq", "dstq"),
        *,
        num_classes: int = NUM_CLASSES,
        thing_ids: Iterable[int] = THING_IDS,
        void: int = VOID,
        dq_thresholds: Sequence[float] = DEFAULT_DQ_THRESHOLDS,
        vpq_windows: Sequence[int] = DEFAULT_VPQ_WINDOWS,
        dvpq_windows: Sequence[int] = DEFAULT_VPQ_WINDOWS,
        dvpq_lambdas: Sequence[float] = DEFAULT_DVPQ_LAMBDAS,
        pred_on_void: PredOnVoid = "count",
        class_mean: ClassMean | None = None,
        diagnostics: bool = False,
        class_names: dict[int, str] | None = None,
    ) -> None:
        if pred_on_void not in get_args(PredOnVoid):
            raise EvalError(f"pred_on_void must be 'count' or 'ignore', got {pred_on_void!r}")
        if class_mean is not None and class_mean not in get_args(ClassMean):
            raise EvalError(f"class_mean must be 'present' or 'all', got {class_mean!r}")
        means = {m: class_mean or DEFAULT_CLASS_MEAN[m] for m in DEFAULT_CLASS_MEAN}
        self.metrics = parse_metrics(metrics)
        self.codes = SegmentCodes(num_classes, thing_ids, void)
        self.settings = {
            "num_classes": num_classes,
            "thing_ids": list(self.codes.thing_ids),
            "void": void,
            "pred_on_void": pred_on_void,
        }
        self._stq = self._vpq = self._dvpq = None
        if {"stq", "dstq"} & set(self.metrics):
            thresholds = tuple(float(t) for t in dq_thresholds) if "dstq" in self.metrics else None
            self._stq = SegmentationTrackingQuality(
                self.codes, depth_thresholds=thresholds, pred_on_void=pred_on_void
            )
            if thresholds:
                self.settings["dq_thresholds"] = list(thresholds)
        if "vpq" in self.metrics:
            self._vpq = VideoPanopticQuality(
                self.codes, tuple(int(k) for k in vpq_windows), class_mean=means["vpq"]
            )
            self.settings["vpq_windows"] = list(self._vpq.windows)
            self.settings["vpq_class_mean"] = means["vpq"]
        if "dvpq" in self.metrics:
            lambdas = tuple(float(x) for x in dvpq_lambdas)
            self._dvpq = VideoPanopticQuality(
                self.codes, tuple(int(k) for k in dvpq_windows), lambdas, class_mean=means["dvpq"]
            )
            self.settings["dvpq_windows"] = list(self._dvpq.windows)
            self.settings["dvpq_class_mean"] = means["dvpq"]
            self.settings["dvpq_lambdas"] = list(lambdas)
        if class_names is None and num_classes == NUM_CLASSES:
            class_names = dict(enumerate(CLASS_NAMES))
        self._diagnostics = Diagnostics(self.codes, class_names) if diagnostics else None
        self.settings["diagnostics"] = bool(diagnostics)
        self.needs_depth = bool(DEPTH_METRICS & set(self.metrics))
        self.frames = 0

    def update(self, gt: Frame, pred: Frame, sequence_id: str | None = None) -> None:
        """Score one frame: ``gt`` and ``pred`` carry semantic, instance (track ids) and depth."""
        sequence = gt.sequence if sequence_id is None else str(sequence_id)
        where = f"frame {sequence}/{gt.index}"
        gt_semantic, gt_instance = self._labels(gt, "ground truth", where, None)
        pred_semantic, pred_instance = self._labels(pred, "prediction", where, gt_semantic.shape)
        gt_depth = pred_depth = None
        if self.needs_depth:
            gt_depth, pred_depth = self._depths(gt, pred, where)
        args = (gt_semantic, gt_instance, pred_semantic, pred_instance, sequence, gt_depth, pred_depth)
        for metric in (self._stq, self._vpq, self._dvpq):
            if metric is not None:
                metric.update(*args)
        if self._diagnostics is not None:
            self._diagnostics.update(*args[:5])
        self.frames += 1

    def _labels(
        self, frame: Frame, role: str, where: str, shape: tuple[int, ...] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if frame.semantic is None:
            raise EvalError(f"{where}: the {role} has no panoptic labels")
        semantic = frame.semantic
        if semantic.ndim != 2:
            raise EvalError(f"{where}: the {role} labels are not a single-channel HxW map")
        if shape is not None and semantic.shape != shape:
            raise EvalError(
                f"{where}: the prediction is {_wxh(semantic.shape)} but the ground truth is {_wxh(shape)}"
            )
        semantic = _as_uint8_ids(semantic, f"{where}: {role} class ids")
        bad = (semantic >= self.codes.num_classes) & (semantic != self.codes.void_label)
        if bad.any():
            ids = sorted({int(v) for v in np.unique(semantic[bad])})
            raise EvalError(
                f"{where}: the {role} has unknown class ids {ids} "
                f"(expected 0-{self.codes.num_classes - 1} or {self.codes.void_label})"
            )
        instance = frame.instance
        if instance is None:
            instance = np.zeros(semantic.shape, dtype=np.uint16)
        elif instance.shape != semantic.shape:
            raise EvalError(f"{where}: the {role} instance map and class map differ in size")
        elif instance.dtype != np.uint16:
            if instance.size and (instance.min() < 0 or instance.max() >= INSTANCE_RANGE):
                raise EvalError(f"{where}: {role} instance ids must lie in 0-{INSTANCE_RANGE - 1}")
            instance = instance.astype(np.uint16)
        return semantic, instance

    def _depths(self, gt: Frame, pred: Frame, where: str) -> tuple[np.ndarray, np.ndarray]:
        wanted = ", ".join(sorted(DEPTH_METRICS & set(self.metrics)))
        if gt.depth is None:
            raise EvalError(f"{where}: the ground truth has no depth, which {wanted} need")
        if pred.depth is None:
            raise EvalError(f"{where}: the prediction has no depth, which {wanted} need")
        gt_depth = gt.depth.astype(np.float32, copy=False)
        pred_depth = pred.depth.astype(np.float32, copy=False)
        if pred_depth.ndim != 2:
            raise EvalError(f"{where}: the predicted depth is not an HxW map")
        if pred_depth.shape != gt_depth.shape:
            # The references score depth at the ground truth's size; nearest keeps 0 = no estimate.
            height, width = gt_depth.shape
            pred_depth = cv2.resize(pred_depth, (width, height), interpolation=cv2.INTER_NEAREST)
        # Negative or NaN predictions are no estimate (0), as the references only accept pred > 0.
        return gt_depth, np.fmax(pred_depth, np.float32(0.0))

    def merge(self, other: Evaluator) -> None:
        """Add another evaluator's sequences (scored e.g. in another process) to this one."""
        if (other.metrics, other.settings) != (self.metrics, self.settings):
            raise EvalError("cannot merge evaluators with different metrics or settings")
        for mine, theirs in ((self._stq, other._stq), (self._vpq, other._vpq), (self._dvpq, other._dvpq)):
            if mine is not None and theirs is not None:
                mine.merge(theirs)  # type: ignore[arg-type]
        if self._diagnostics is not None and other._diagnostics is not None:
            self._diagnostics.merge(other._diagnostics)
        self.frames += other.frames

    def result(self) -> EvalResult:
        """Scores per sequence and over all sequences; the state is kept, so scoring can go on."""
        if self.frames == 0:
            raise EvalError("no frames were scored")
        result = build_result(self.metrics, self.settings, self._stq, self._vpq, self._dvpq)
        if self._diagnostics is None:
            return result
        return replace(result, diagnostics=self._diagnostics.result(self._stq))


def _as_uint8_ids(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.integer):
        raise EvalError(f"{what} must be integers, got {array.dtype}")
    if array.size and (array.min() < 0 or array.max() > 255):
        raise EvalError(f"{what} must lie in 0-255")
    return array.astype(np.uint8)


def _wxh(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}"
