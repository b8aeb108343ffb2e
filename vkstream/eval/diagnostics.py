"""Where a model loses its STQ: per-class IoU and PQ, AQ by track size, untracked pixels, id switches.

The headline metrics say how good a prediction is; these say why. They are computed from the same
validated frames as the metrics, streaming and mergeable like them:

- **per-class IoU** (the terms of SQ) and **per-class PQ** (single frames, the k = 1 term of VPQ);
- **AQ by track size**: ground-truth tracks bucketed by their mean visible area per frame, with
  each bucket's AQ (AQ weighs every track equally, so many tiny tracks can dominate it);
- **untracked share**: of the ground-truth thing pixels the prediction gives the right class, the
  share it leaves without a track id (instance 0), which AQ counts as missed;
- **id switches**: per ground-truth track, how often the predicted id that covers more than half of
  it changes from one frame where one does to the next (as MOT counts identity switches), and how
  many distinct ids cover it so.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vkstream.eval.codes import SegmentCodes, pair_counts
from vkstream.eval.stq import SegmentationTrackingQuality
from vkstream.eval.vpq import VideoPanopticQuality

SIZE_BUCKETS_PX = (0, 50, 200, 1000, 5000)
"""Lower edges of the track size buckets (mean visible pixels per frame); the last is open."""


@dataclass
class _TrackHistory:
    frames: dict[int, int] = field(default_factory=dict)
    """GT track code -> frames in which it is visible."""
    last_id: dict[int, int] = field(default_factory=dict)
    """GT track code -> the predicted track code that covered most of it when last tracked."""
    switches: dict[int, int] = field(default_factory=dict)
    ids: dict[int, set[int]] = field(default_factory=dict)


@dataclass
class _State:
    confusion: np.ndarray
    """[classes + 1, classes + 1] ground truth x prediction, the last row/column void."""
    class_pixels: int = 0
    """GT thing pixels (not crowd) predicted with their class."""
    class_untracked: int = 0
    """... of which the prediction gives no track id."""
    sequences: dict[str, _TrackHistory] = field(default_factory=dict)


class Diagnostics:
    """Streaming diagnostics over validated frames; frames of a sequence must come in order."""

    def __init__(self, codes: SegmentCodes, class_names: dict[int, str] | None = None) -> None:
        self.codes = codes
        self.class_names = dict(class_names or {})
        size = codes.num_classes + 1
        self._state = _State(np.zeros((size, size), dtype=np.int64))
        self._pq = VideoPanopticQuality(codes, (1,))

    def update(
        self,
        gt_semantic: np.ndarray,
        gt_instance: np.ndarray,
        pred_semantic: np.ndarray,
        pred_instance: np.ndarray,
        sequence: str,
    ) -> None:
        codes, state = self.codes, self._state
        nc = codes.num_classes
        gs = np.minimum(gt_semantic.ravel(), nc).astype(np.intp)
        ps = np.minimum(pred_semantic.ravel(), nc).astype(np.intp)
        state.confusion += np.bincount(gs * (nc + 1) + ps, minlength=(nc + 1) ** 2).reshape(nc + 1, nc + 1)
        self._pq.update(gt_semantic, gt_instance, pred_semantic, pred_instance, sequence)

        gt_thing = codes.thing_mask(gt_semantic) & (gt_instance > 0)
        pixels = np.flatnonzero(gt_thing)
        history = state.sequences.setdefault(sequence, _TrackHistory())
        if not pixels.size:
            return
        g_sem, g_ins = gt_semantic.ravel()[pixels], gt_instance.ravel()[pixels]
        p_sem, p_ins = pred_semantic.ravel()[pixels], pred_instance.ravel()[pixels]
        right_class = p_sem == g_sem
        state.class_pixels += int(np.count_nonzero(right_class))
        state.class_untracked += int(np.count_nonzero(right_class & (p_ins == 0)))

        g_code = codes.thing_codes(g_sem, g_ins)
        tracks, sizes = np.unique(g_code, return_counts=True)
        for track in tracks.tolist():
            history.frames[track] = history.frames.get(track, 0) + 1
        tracked = codes.thing_mask(p_sem) & (p_ins > 0)
        if not tracked.any():
            return
        g, p, counts = pair_counts(g_code[tracked], codes.thing_codes(p_sem[tracked], p_ins[tracked]))
        # The predicted id covering more than half of a GT track in this frame (at most one can).
        covers = counts * 2 > sizes[np.searchsorted(tracks, g)]
        for track, pred in zip(g[covers].tolist(), p[covers].tolist(), strict=True):
            previous = history.last_id.get(track)
            if previous is not None and previous != pred:
                history.switches[track] = history.switches.get(track, 0) + 1
            history.last_id[track] = pred
            history.ids.setdefault(track, set()).add(pred)

    def merge(self, other: Diagnostics) -> None:
        shared = sorted(set(self._state.sequences) & set(other._state.sequences))
        if shared:
            raise ValueError(f"sequence {shared[0]} was diagnosed in both states; score it in one place")
        self._state.confusion += other._state.confusion
        self._state.class_pixels += other._state.class_pixels
        self._state.class_untracked += other._state.class_untracked
        self._state.sequences.update(other._state.sequences)
        self._pq.merge(other._pq)

    def result(self, stq: SegmentationTrackingQuality | None) -> dict[str, Any]:
        """JSON-ready diagnostics; AQ by size needs the STQ state that scored the same frames."""
        state = self._state
        out: dict[str, Any] = {
            "classes": self._per_class(),
            "untracked_share": state.class_untracked / state.class_pixels if state.class_pixels else None,
        }
        tracks = self._tracks(stq)
        if tracks is not None:
            out.update(tracks)
        return out

    def _per_class(self) -> list[dict[str, Any]]:
        nc = self.codes.num_classes
        confusion = self._state.confusion.copy()
        confusion[nc, :] = 0
        tp = np.diagonal(confusion)[:nc].astype(np.float64)
        union = confusion.sum(0)[:nc] + confusion.sum(1)[:nc] - tp
        stats = self._pq.total_stats()[0, 0]
        tp_seg, fp, fn, iou_sum = (stats[i, :nc] for i in range(4))
        counted = tp_seg + fp + fn > 0
        rows = []
        for c in range(nc):
            if union[c] == 0 and not counted[c]:
                continue
            pq = iou_sum[c] / (tp_seg[c] + 0.5 * fp[c] + 0.5 * fn[c]) if counted[c] else None
            rows.append(
                {
                    "class": c,
                    "name": self.class_names.get(c, str(c)),
                    "thing": c in self.codes.thing_ids,
                    "iou": float(tp[c] / union[c]) if union[c] else None,
                    "pq": None if pq is None else float(pq),
                    "gt_pixels": int(confusion[c].sum()),
                }
            )
        return rows

    def _tracks(self, stq: SegmentationTrackingQuality | None) -> dict[str, Any] | None:
        if stq is None:
            return None
        sizes, terms, switches, ids = [], [], [], []
        for name, history in self._state.sequences.items():
            if name not in stq.sequences:
                continue
            keys, pixels, aq_terms = stq.track_terms(stq.sequence_state(name))
            for key, px, term in zip(keys.tolist(), pixels.tolist(), aq_terms.tolist(), strict=True):
                sizes.append(px / max(history.frames.get(key, 1), 1))
                terms.append(term)
                switches.append(history.switches.get(key, 0))
                ids.append(len(history.ids.get(key, ())))
        if not sizes:
            return {"tracks": 0, "aq_by_size": [], "id_switches_per_track": None, "ids_per_track": None}
        size_arr, term_arr = np.array(sizes), np.array(terms)
        edges = [*SIZE_BUCKETS_PX, np.inf]
        buckets = []
        for lo, hi in itertools.pairwise(edges):
            chosen = (size_arr >= lo) & (size_arr < hi)
            buckets.append(
                {
                    "min_px": lo,
                    "max_px": None if np.isinf(hi) else hi,
                    "tracks": int(chosen.sum()),
                    "aq": float(term_arr[chosen].mean()) if chosen.any() else None,
                }
            )
        tracked = np.array(ids) > 0
        return {
            "tracks": len(sizes),
            "aq_by_size": buckets,
            "id_switches_per_track": float(np.mean(switches)),
            "ids_per_track": float(np.mean(np.array(ids)[tracked])) if tracked.any() else None,
            "tracked_share": float(tracked.mean()),
        }


def format_diagnostics(diag: dict[str, Any]) -> list[str]:
    """The diagnostics as table lines (percent)."""

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}"

    lines = ["per class (%):", f"  {'class':<16} {'IoU':>6} {'PQ':>6}  {'GT pixels':>10}"]
    for row in diag["classes"]:
        name = f"{row['name']}{'*' if row['thing'] else ''}"
        lines.append(f"  {name:<16} {pct(row['iou']):>6} {pct(row['pq']):>6}  {row['gt_pixels']:>10}")
    lines.append("  (* thing class; PQ of single frames)")
    if diag.get("aq_by_size"):
        lines.append("AQ by track size (mean visible pixels per frame):")
        for b in diag["aq_by_size"]:
            span = f"{b['min_px']:g}-{b['max_px']:g}" if b["max_px"] is not None else f">={b['min_px']:g}"
            lines.append(f"  {span:>11} px  {b['tracks']:>5} tracks  AQ {pct(b['aq'])}")
    lines.append(f"thing pixels of the right class left untracked: {pct(diag.get('untracked_share'))} %")
    if diag.get("id_switches_per_track") is not None:
        lines.append(
            f"tracks: {diag['tracks']}, tracked at all {pct(diag['tracked_share'])} %, "
            f"id switches per track {diag['id_switches_per_track']:.2f}, "
            f"ids per tracked track {diag['ids_per_track'] or 0:.2f}"
        )
    return lines
