"""STQ (segmentation and tracking quality) and its depth-aware extension DSTQ.

Semantics follow deeplab2's numpy STQ and its depth-aware subclass, quirks included (see
docs/metrics.md): SQ is the class-mean IoU of one confusion matrix over all sequences, with
ground-truth void rows removed but a predicted-void column kept; AQ weighs every ground-truth track
the same; crowd pixels are removed from both sides of AQ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vkstream.eval.codes import INSTANCE_RANGE, SegmentCodes, SparseCounts, pair_counts, sum_by_key

PredOnVoid = Literal["count", "ignore"]
"""What AQ does with predicted thing pixels on ground-truth void: deeplab2 counts them in the
predicted track's size (``count``); ViP-DeepLab's DSTQ script removes them first (``ignore``)."""


@dataclass
class _SequenceState:
    confusion: np.ndarray
    frames: int = 0
    gt_sizes: SparseCounts = field(default_factory=SparseCounts)
    pred_sizes: SparseCounts = field(default_factory=SparseCounts)
    overlaps: SparseCounts = field(default_factory=SparseCounts)
    depth_valid: int = 0
    depth_inliers: np.ndarray | None = None
    abs_rel_sum: float = 0.0


@dataclass(frozen=True)
class SequenceScores:
    """AQ, SQ (IoU) and, with depth, DQ of one sequence or of all of them."""

    aq: float
    sq: float
    tracks: int
    frames: int
    dq: float | None = None
    dq_at: dict[float, float] | None = None
    abs_rel: float | None = None
    """Mean |pred - gt| / gt over pixels with ground-truth depth (no estimate counts as 1)."""

    @property
    def stq(self) -> float:
        return float(np.sqrt(self.aq * self.sq))

    @property
    def dstq(self) -> float | None:
        return None if self.dq is None else float(np.cbrt(self.aq * self.sq * self.dq))


class SegmentationTrackingQuality:
    """Streaming STQ; with ``depth_thresholds`` also DQ and DSTQ.

    ``update`` takes one frame of one sequence at a time, in any interleaving of sequences; frames
    of a sequence may come in any order, as STQ does not depend on it.
    """

    def __init__(
        self,
        codes: SegmentCodes,
        *,
        depth_thresholds: tuple[float, ...] | None = None,
        pred_on_void: PredOnVoid = "count",
    ) -> None:
        if pred_on_void not in ("count", "ignore"):
            raise ValueError(f"pred_on_void must be 'count' or 'ignore', got {pred_on_void!r}")
        if depth_thresholds is not None and (
            not depth_thresholds or any(not t > 1.0 for t in depth_thresholds)
        ):
            raise ValueError(f"depth thresholds must be ratios above 1, got {depth_thresholds}")
        self.codes = codes
        self.depth_thresholds = depth_thresholds
        self.pred_on_void: PredOnVoid = pred_on_void
        self._sequences: dict[str, _SequenceState] = {}
        # Rows and columns of a 256 x 256 confusion over raw ids that hold the classes, then void.
        self._ids = np.r_[np.arange(codes.num_classes), codes.void_label]

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
        """Add one frame. Arrays are validated by the caller: same HxW, uint8 class ids, 16-bit ids."""
        state = self._sequences.get(sequence)
        if state is None:
            size = self.codes.num_classes + 1
            state = self._sequences[sequence] = _SequenceState(np.zeros((size, size), dtype=np.int64))
        state.frames += 1
        state.confusion += self._confusion(gt_semantic, pred_semantic)
        self._update_association(state, gt_semantic, gt_instance, pred_semantic, pred_instance)
        if self.depth_thresholds is not None:
            if gt_depth is None or pred_depth is None:
                raise ValueError("depth-aware STQ needs ground-truth and predicted depth for every frame")
            self._update_depth(state, gt_depth, pred_depth)

    def _confusion(self, gt_semantic: np.ndarray, pred_semantic: np.ndarray) -> np.ndarray:
        """(classes + void) x (classes + void) pixel counts of validated class ids."""
        pairs = gt_semantic.astype(np.uint16) << 8
        pairs |= pred_semantic
        raw = np.bincount(pairs.ravel(), minlength=1 << 16).reshape(256, 256)
        return raw[np.ix_(self._ids, self._ids)]

    def _update_association(
        self,
        state: _SequenceState,
        gt_semantic: np.ndarray,
        gt_instance: np.ndarray,
        pred_semantic: np.ndarray,
        pred_instance: np.ndarray,
    ) -> None:
        # Only pixels where either side is a thing class matter; comparisons beat lookups here.
        pixels = np.flatnonzero(self.codes.thing_mask(gt_semantic) | self.codes.thing_mask(pred_semantic))
        if not pixels.size:
            return
        gs, gi = gt_semantic.ravel()[pixels], gt_instance.ravel()[pixels]
        ps, pi = pred_semantic.ravel()[pixels], pred_instance.ravel()[pixels]
        gt_thing = self.codes.thing_mask(gs)
        crowd = gt_thing & (gi == 0)
        pred_kept = self.codes.thing_mask(ps) & ~crowd
        if self.pred_on_void == "ignore":
            pred_kept &= gs != self.codes.void_label
        # Key 0 = "not a track on this side"; tracks are their thing code + 1.
        gt_keys = np.where(gt_thing & ~crowd, self.codes.thing_codes(gs, gi) + 1, 0)
        pred_keys = np.where(pred_kept, self.codes.thing_codes(ps, pi) + 1, 0)
        g, p, counts = pair_counts(gt_keys, pred_keys)
        on_gt, on_pred = g > 0, p > 0
        if on_gt.any():
            state.gt_sizes.add(*sum_by_key(g[on_gt] - 1, counts[on_gt]))
        if on_pred.any():
            state.pred_sizes.add(*sum_by_key(p[on_pred] - 1, counts[on_pred]))
        both = on_gt & on_pred
        if both.any():
            key_range = len(self.codes.thing_ids) * INSTANCE_RANGE
            state.overlaps.add((g[both] - 1) * key_range + (p[both] - 1), counts[both])

    def _update_depth(self, state: _SequenceState, gt_depth: np.ndarray, pred_depth: np.ndarray) -> None:
        assert self.depth_thresholds is not None
        valid = gt_depth > 0
        state.depth_valid += int(np.count_nonzero(valid))
        # Where either depth is 0 (or the gt is invalid) the ratio is inf or nan and no threshold
        # accepts it, so no masking is needed: the inliers are exactly the reference's.
        with np.errstate(divide="ignore", invalid="ignore"):
            forward = pred_depth / gt_depth
            ratio = np.maximum(forward, gt_depth / pred_depth)
            state.abs_rel_sum += float(np.sum(np.abs(forward - 1.0), where=valid, dtype=np.float64))
        inliers = np.array([np.count_nonzero(ratio <= t) for t in self.depth_thresholds], dtype=np.int64)
        if state.depth_inliers is None:
            state.depth_inliers = inliers
        else:
            state.depth_inliers += inliers

    # --- results ------------------------------------------------------------------------------

    def merge(self, other: SegmentationTrackingQuality) -> None:
        """Add the sequences another instance (e.g. in another process) has scored."""
        if (other.codes.num_classes, other.codes.thing_ids, other.depth_thresholds, other.pred_on_void) != (
            self.codes.num_classes,
            self.codes.thing_ids,
            self.depth_thresholds,
            self.pred_on_void,
        ):
            raise ValueError("cannot merge STQ states scored with different settings")
        for name, theirs in other._sequences.items():
            mine = self._sequences.get(name)
            if mine is None:
                size = self.codes.num_classes + 1
                mine = self._sequences[name] = _SequenceState(np.zeros((size, size), dtype=np.int64))
            mine.confusion += theirs.confusion
            mine.frames += theirs.frames
            mine.gt_sizes.merge(theirs.gt_sizes)
            mine.pred_sizes.merge(theirs.pred_sizes)
            mine.overlaps.merge(theirs.overlaps)
            mine.depth_valid += theirs.depth_valid
            mine.abs_rel_sum += theirs.abs_rel_sum
            if theirs.depth_inliers is not None:
                if mine.depth_inliers is None:
                    mine.depth_inliers = theirs.depth_inliers.copy()
                else:
                    mine.depth_inliers += theirs.depth_inliers

    def per_sequence(self) -> dict[str, SequenceScores]:
        return {name: self._scores([state]) for name, state in self._sequences.items()}

    def total(self) -> SequenceScores:
        return self._scores(list(self._sequences.values()))

    def _scores(self, states: list[_SequenceState]) -> SequenceScores:
        aq_sums = [self._association_sum(s) for s in states]
        tracks = sum(n for _, n in aq_sums)
        aq = sum(total for total, _ in aq_sums) / max(tracks, 1e-15)
        sq = self._mean_iou(sum((s.confusion for s in states[1:]), states[0].confusion.copy()))
        dq = dq_at = abs_rel = None
        if self.depth_thresholds is not None:
            valid = sum(s.depth_valid for s in states)
            abs_rel = sum(s.abs_rel_sum for s in states) / valid if valid else float("nan")
            inliers = sum(
                (s.depth_inliers for s in states if s.depth_inliers is not None),
                np.zeros(len(self.depth_thresholds), dtype=np.int64),
            )
            dq_at = {
                t: (float(inliers[i]) / valid if valid else 0.0) for i, t in enumerate(self.depth_thresholds)
            }
            dq = float(np.prod(list(dq_at.values())) ** (1.0 / len(dq_at)))
        return SequenceScores(
            aq=float(aq),
            sq=sq,
            tracks=int(tracks),
            frames=sum(s.frames for s in states),
            dq=dq,
            dq_at=dq_at,
            abs_rel=abs_rel,
        )

    def _association_sum(self, state: _SequenceState) -> tuple[float, int]:
        """(sum over ground-truth tracks of their association scores, number of tracks)."""
        _, _, terms = self.track_terms(state)
        return float(terms.sum()), int(terms.size)

    def track_terms(self, state: _SequenceState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per ground-truth track of a sequence: (thing code, pixels, its AQ term); AQ is the terms' mean."""
        gt_keys, gt_sizes = state.gt_sizes.items()
        pred_keys, pred_sizes = state.pred_sizes.items()
        pair_keys, tpa = state.overlaps.items()
        terms = np.zeros(gt_keys.size, dtype=np.float64)
        if pair_keys.size:
            key_range = len(self.codes.thing_ids) * INSTANCE_RANGE
            g_index = np.searchsorted(gt_keys, pair_keys // key_range)
            g_size = gt_sizes[g_index].astype(np.float64)
            p_size = pred_sizes[np.searchsorted(pred_keys, pair_keys % key_range)].astype(np.float64)
            tpa = tpa.astype(np.float64)
            # TPA * IoU / |g| summed over (g, p); TPA + FPA + FNA = |p| + |g| - TPA.
            np.add.at(terms, g_index, tpa * (tpa / (p_size + g_size - tpa)) / g_size)
        return gt_keys, gt_sizes, terms

    def sequence_state(self, sequence: str) -> _SequenceState:
        return self._sequences[sequence]

    def _mean_iou(self, confusion: np.ndarray) -> float:
        confusion = confusion.copy()
        confusion[self.codes.num_classes, :] = 0  # ground-truth void rows
        tp = np.diagonal(confusion)
        unions = confusion.sum(axis=0) + confusion.sum(axis=1) - tp
        counted = np.count_nonzero(unions)
        if counted == 0:
            return float("nan")
        return float(np.sum(tp / np.maximum(unions, 1e-15)) / counted)
