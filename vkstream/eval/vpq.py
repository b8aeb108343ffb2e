"""VPQ (video panoptic quality over windows of k frames) and its depth-aware form DVPQ.

Semantics follow VPSNet's ``eval_vpq`` (tubes of k consecutive frames, every window of a sequence
with stride 1, same-class matching at IoU > 0.5 with the prediction's void part left out of the
union, crowd and void-dominated false positives not counted) and ViP-DeepLab's DVPQ scripts (before
matching, pixels whose depth error exceeds lambda move to an extra class that matches nothing).

Instead of concatenating k frames per window, each frame is reduced once to its (ground-truth
segment, predicted segment, pixel count) histogram; a window's tube is the sum of its frames'
histograms, which gives the same counts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from vkstream.eval.codes import SegmentCodes, pair_counts, sum_by_key

_TP, _FP, _FN, _IOU = range(4)

_Histogram = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(ground-truth codes, predicted codes, pixel counts) of one frame, nonzero pairs only."""


@dataclass
class _SequenceState:
    buffers: list[deque[_Histogram]]
    """Per variant, the last frames' histograms (as many as the largest window)."""
    stats: np.ndarray
    """[variant, window, {tp, fp, fn, iou}, class] sums over the sequence's windows."""
    frames: int = 0


@dataclass(frozen=True)
class PanopticScores:
    """PQ of one window size (and one depth threshold for DVPQ): all classes, things, stuff."""

    pq: float
    pq_things: float
    pq_stuff: float
    classes: int


@dataclass(frozen=True)
class VideoPanopticScores:
    """Scores per (depth threshold or None, window size), and their published average."""

    by_setting: dict[tuple[float | None, int], PanopticScores] = field(default_factory=dict)
    frames: int = 0

    @property
    def value(self) -> float:
        """Mean PQ over window sizes (and depth thresholds); settings with no window are left out."""
        values = [s.pq for s in self.by_setting.values() if not np.isnan(s.pq)]
        return float(np.mean(values)) if values else float("nan")

    def mean(self, part: str) -> float:
        values = [getattr(s, part) for s in self.by_setting.values() if not np.isnan(getattr(s, part))]
        return float(np.mean(values)) if values else float("nan")


ClassMean = Literal["present", "all"]
"""Which classes PQ averages: those with a segment on either side (VPSNet's eval_vpq) or every
class, an absent one counting 0 (ViP-DeepLab's eval_dvpq)."""


class VideoPanopticQuality:
    """Streaming VPQ over window sizes; with ``depth_lambdas`` it is DVPQ over those thresholds too.

    Frames of a sequence must arrive in order (windows are consecutive frames); sequences may be
    interleaved. ``class_mean`` picks the classes PQ averages (:data:`ClassMean`).
    """

    def __init__(
        self,
        codes: SegmentCodes,
        windows: tuple[int, ...] = (1, 2, 3, 4),
        depth_lambdas: tuple[float, ...] | None = None,
        class_mean: ClassMean = "present",
    ) -> None:
        if class_mean not in get_args(ClassMean):
            raise ValueError(f"class_mean must be 'present' or 'all', got {class_mean!r}")
        if not windows or any(k < 1 for k in windows) or len(set(windows)) != len(windows):
            raise ValueError(f"window sizes must be distinct positive frame counts, got {windows}")
        if depth_lambdas is not None and (not depth_lambdas or any(not lam > 0 for lam in depth_lambdas)):
            raise ValueError(f"depth thresholds lambda must be positive, got {depth_lambdas}")
        self.codes = codes
        self.class_mean: ClassMean = class_mean
        self.windows = tuple(windows)
        self.depth_lambdas = depth_lambdas
        self.variants: tuple[float | None, ...] = depth_lambdas if depth_lambdas is not None else (None,)
        self._sequences: dict[str, _SequenceState] = {}
        self._num_stat_classes = codes.num_classes + 2  # + VOID and WRONG, dropped from the means

    @property
    def sequences(self) -> list[str]:
        return list(self._sequences)

    def update(
        self,
        gt_semantic: np.ndarray,
        gt_instance: np.ndarray,
        pred_semantic: np.ndarray,
        pred_instance: np.ndarray,
        sequence: str,
        gt_depth: np.ndarray | None = None,
        pred_depth: np.ndarray | None = None,
    ) -> None:
        """Add the next frame of ``sequence`` and score every window that now ends at it."""
        state = self._sequences.get(sequence)
        if state is None:
            state = self._sequences[sequence] = _SequenceState(
                buffers=[deque(maxlen=max(self.windows)) for _ in self.variants],
                stats=np.zeros((len(self.variants), len(self.windows), 4, self._num_stat_classes)),
            )
        state.frames += 1
        for v, histogram in enumerate(
            self._histograms(gt_semantic, gt_instance, pred_semantic, pred_instance, gt_depth, pred_depth)
        ):
            buffer = state.buffers[v]
            buffer.append(histogram)
            for w, k in enumerate(self.windows):
                if len(buffer) >= k:
                    self._score_tube(list(buffer)[-k:], state.stats[v, w])

    def _histograms(
        self,
        gt_semantic: np.ndarray,
        gt_instance: np.ndarray,
        pred_semantic: np.ndarray,
        pred_instance: np.ndarray,
        gt_depth: np.ndarray | None,
        pred_depth: np.ndarray | None,
    ) -> list[_Histogram]:
        gt, gt_codes = self.codes.encode(gt_semantic, gt_instance)
        pred, pred_codes = self.codes.encode(pred_semantic, pred_instance)

        def histogram(pred_compact: np.ndarray) -> _Histogram:
            g, p, counts = pair_counts(gt, pred_compact)
            return gt_codes[g], pred_codes[p], counts

        if self.depth_lambdas is None:
            return [histogram(pred)]
        if gt_depth is None or pred_depth is None:
            raise ValueError("DVPQ needs ground-truth and predicted depth for every frame")
        with np.errstate(divide="ignore", invalid="ignore"):
            error = (np.abs(pred_depth - gt_depth) / gt_depth).ravel()
        valid = (gt_depth > 0).ravel()
        out = []
        for lam in self.depth_lambdas:
            # Pixels with a depth error above lambda become one segment of an extra class.
            wrong = valid & (error > lam)
            out.append(histogram(np.where(wrong, np.int32(self.codes.WRONG), pred)))
        return out

    def _score_tube(self, frames: list[_Histogram], stats: np.ndarray) -> None:
        """Match the segments of one tube and add its TP, FP, FN and IoU sums per class to ``stats``."""
        codes, size = self.codes, self.codes.size
        n = self._num_stat_classes
        pair_keys, overlap = sum_by_key(
            np.concatenate([g * size + p for g, p, _ in frames]), np.concatenate([c for _, _, c in frames])
        )
        g, p = pair_keys // size, pair_keys % size
        g_keys, g_area = sum_by_key(g, overlap)
        p_keys, p_area = sum_by_key(p, overlap)
        g_pos, p_pos = np.searchsorted(g_keys, g), np.searchsorted(p_keys, p)
        g_class, p_class = codes.classes_of(g), codes.classes_of(p)
        g_void, g_crowd = g == codes.VOID, codes.is_crowd(g)

        void_overlap = np.bincount(p_pos[g_void], weights=overlap[g_void], minlength=p_keys.size)
        on_crowd = g_crowd & (g_class == p_class)
        crowd_overlap = np.bincount(p_pos[on_crowd], weights=overlap[on_crowd], minlength=p_keys.size)

        candidate = (g_class == p_class) & ~g_void & ~g_crowd
        union = g_area[g_pos] + p_area[p_pos] - overlap - void_overlap[p_pos]
        iou = np.divide(overlap, union, out=np.zeros_like(overlap), where=candidate)
        match = candidate & (iou > 0.5)
        stats[_TP] += np.bincount(g_class[match], minlength=n)
        stats[_IOU] += np.bincount(g_class[match], weights=iou[match], minlength=n)

        g_matched = np.zeros(g_keys.size, dtype=bool)
        g_matched[g_pos[match]] = True
        p_matched = np.zeros(p_keys.size, dtype=bool)
        p_matched[p_pos[match]] = True

        g_seg_class = codes.classes_of(g_keys)
        missed = ~g_matched & (g_keys != codes.VOID) & ~codes.is_crowd(g_keys)
        stats[_FN] += np.bincount(g_seg_class[missed], minlength=n)

        p_seg_class = codes.classes_of(p_keys)
        # A prediction lying mostly on void or on its class's crowd region is not a false positive.
        ignored = (void_overlap + crowd_overlap) / p_area > 0.5
        false = ~p_matched & (p_keys != codes.VOID) & ~ignored
        stats[_FP] += np.bincount(p_seg_class[false], minlength=n)

    # --- results ------------------------------------------------------------------------------

    def merge(self, other: VideoPanopticQuality) -> None:
        """Add the sequences another instance has scored; a sequence must be scored in one place."""
        settings = (
            self.codes.num_classes,
            self.codes.thing_ids,
            self.windows,
            self.depth_lambdas,
            self.class_mean,
        )
        theirs = (
            other.codes.num_classes,
            other.codes.thing_ids,
            other.windows,
            other.depth_lambdas,
            other.class_mean,
        )
        if settings != theirs:
            raise ValueError("cannot merge VPQ states scored with different settings")
        shared = sorted(set(self._sequences) & set(other._sequences))
        if shared:
            raise ValueError(
                f"sequence {shared[0]} was scored in both states; its windows across the split would be "
                "lost, so score each sequence in one process"
            )
        self._sequences.update(other._sequences)

    def per_sequence(self) -> dict[str, VideoPanopticScores]:
        return {name: self._scores(state.stats, state.frames) for name, state in self._sequences.items()}

    def total(self) -> VideoPanopticScores:
        return self._scores(self.total_stats(), sum(s.frames for s in self._sequences.values()))

    def total_stats(self) -> np.ndarray:
        """[variant, window, {tp, fp, fn, iou}, class] sums over every sequence."""
        shape = (len(self.variants), len(self.windows), 4, self._num_stat_classes)
        return sum((s.stats for s in self._sequences.values()), np.zeros(shape))

    def _scores(self, stats: np.ndarray, frames: int) -> VideoPanopticScores:
        by_setting = {}
        for v, lam in enumerate(self.variants):
            for w, k in enumerate(self.windows):
                by_setting[(lam, k)] = self._panoptic(stats[v, w])
        return VideoPanopticScores(by_setting, frames)

    def _panoptic(self, stats: np.ndarray) -> PanopticScores:
        nc = self.codes.num_classes
        tp, fp, fn, iou = (stats[i, :nc] for i in (_TP, _FP, _FN, _IOU))
        counted = tp + fp + fn > 0
        pq = np.divide(iou, tp + 0.5 * fp + 0.5 * fn, out=np.zeros(nc), where=counted)
        things = np.zeros(nc, dtype=bool)
        things[list(self.codes.thing_ids)] = True

        # With no segment at all (no window of this size was seen) there is nothing to average.
        averaged = counted if self.class_mean == "present" or not counted.any() else np.ones(nc, dtype=bool)

        def mean(selected: np.ndarray) -> float:
            chosen = averaged & selected
            return float(pq[chosen].mean()) if chosen.any() else float("nan")

        return PanopticScores(
            pq=mean(np.ones(nc, dtype=bool)),
            pq_things=mean(things),
            pq_stuff=mean(~things),
            classes=int(counted.sum()),
        )
