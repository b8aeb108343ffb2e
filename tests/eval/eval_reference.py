"""Straight, loop-based transcriptions of the reference algorithms, as oracles for the fast code.

They follow the published evaluation scripts' structure (dicts of segment ids, a Python loop per
segment, tubes concatenated image by image) so that the vectorised metrics can be checked against
an independent computation on random frames. Slow by design; for small test images only.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

THINGS = (11, 13)
NUM_CLASSES = 19
VOID = 255
SHIFT = 16
OFFSET = 2**32


def _panoptic(semantic: np.ndarray, instance: np.ndarray) -> np.ndarray:
    return (semantic.astype(np.int64) << SHIFT) + instance.astype(np.int64)


class ReferenceSTQ:
    """deeplab2's numpy STQuality and DSTQuality, transcribed (dicts, per-id loops)."""

    def __init__(self, depth_thresholds=(1.25, 1.1), pred_on_void: str = "count") -> None:
        self.size = NUM_CLASSES + 1
        self.conf: dict[str, np.ndarray] = {}
        self.preds: dict[str, dict[int, int]] = {}
        self.gts: dict[str, dict[int, int]] = {}
        self.inter: dict[str, dict[int, int]] = {}
        self.thresholds = depth_thresholds
        self.depth_total: dict[str, int] = defaultdict(int)
        self.depth_inliers = [defaultdict(int) for _ in depth_thresholds]
        self.pred_on_void = pred_on_void

    def update(self, gt_sem, gt_inst, pred_sem, pred_inst, seq, gt_depth=None, pred_depth=None):
        y_true, y_pred = _panoptic(gt_sem, gt_inst), _panoptic(pred_sem, pred_inst)
        if self.pred_on_void == "ignore":
            y_pred = np.where(gt_sem == VOID, VOID << SHIFT, y_pred)
        sl, sp = y_true >> SHIFT, y_pred >> SHIFT
        sl = np.where(sl != VOID, sl, NUM_CLASSES)
        sp = np.where(sp != VOID, sp, NUM_CLASSES)
        if seq not in self.conf:
            self.conf[seq] = np.zeros((self.size, self.size), np.int64)
            self.preds[seq], self.gts[seq], self.inter[seq] = (
                defaultdict(int),
                defaultdict(int),
                defaultdict(int),
            )
        for a, b in zip(sl.ravel(), sp.ravel(), strict=True):
            self.conf[seq][a, b] += 1
        inst = y_true & 0xFFFF
        label_mask = np.isin(sl, THINGS)
        pred_mask = np.isin(sp, THINGS)
        crowd = (inst == 0) & label_mask
        label_mask &= ~crowd
        pred_mask &= ~crowd
        for i in y_pred[pred_mask]:
            self.preds[seq][int(i)] += 1
        for i in y_true[label_mask]:
            self.gts[seq][int(i)] += 1
        both = label_mask & pred_mask
        for g, p in zip(y_true[both], y_pred[both], strict=True):
            self.inter[seq][int(g) * OFFSET + int(p)] += 1
        if gt_depth is not None:
            valid = gt_depth > 0
            self.depth_total[seq] += int(valid.sum())
            valid &= pred_depth > 0
            g, p = gt_depth[valid], pred_depth[valid]
            err = np.maximum(p / g, g / p)
            for i, t in enumerate(self.thresholds):
                self.depth_inliers[i][seq] += int((err <= t).sum())

    def result(self) -> dict[str, float]:
        aq_sum, tubes = 0.0, 0
        for seq in self.gts:
            for gt_id, gt_size in self.gts[seq].items():
                inner = 0.0
                for pr_id, pr_size in self.preds[seq].items():
                    key = gt_id * OFFSET + pr_id
                    if key in self.inter[seq]:
                        tpa = self.inter[seq][key]
                        inner += tpa * (tpa / (tpa + (pr_size - tpa) + (gt_size - tpa)))
                aq_sum += inner / gt_size
            tubes += len(self.gts[seq])
        aq = aq_sum / max(tubes, 1e-15)
        total = np.zeros((self.size, self.size), np.int64)
        for conf in self.conf.values():
            c = conf.copy()
            c[NUM_CLASSES, :] = 0
            total += c
        tp = total.diagonal()
        unions = tp + (total.sum(0) - tp) + (total.sum(1) - tp)
        sq = np.sum(tp / np.maximum(unions, 1e-15)) / np.count_nonzero(unions)
        out = {"aq": aq, "sq": sq, "stq": float(np.sqrt(aq * sq))}
        dqs = []
        for i, t in enumerate(self.thresholds):
            n = sum(self.depth_total.values())
            dqs.append(sum(self.depth_inliers[i].values()) / n if n else 0.0)
            out[f"dq@{t:g}"] = dqs[-1]
        if self.depth_total:
            out["dq"] = float(np.prod(dqs) ** (1 / len(dqs)))
            out["dstq"] = float((aq * sq * out["dq"]) ** (1 / 3))
        return out


def _vpq_tube(gt_ids: np.ndarray, pred_ids: np.ndarray, stats: dict[int, list[float]]) -> None:
    """VPSNet's per-tube matching on KITTI-STEP ids (class * 2^16 + instance; crowd = thing, instance 0)."""

    def category(i: int) -> int:
        return i >> SHIFT

    def is_crowd(i: int) -> bool:
        return category(i) in THINGS and i & 0xFFFF == 0

    void_id = VOID << SHIFT
    gt_segs = {
        int(i): int(n)
        for i, n in zip(*np.unique(gt_ids, return_counts=True), strict=True)
        if category(int(i)) != VOID
    }
    pred_segs = {
        int(i): int(n)
        for i, n in zip(*np.unique(pred_ids, return_counts=True), strict=True)
        if category(int(i)) != VOID
    }
    pairs = gt_ids.astype(np.uint64) * np.uint64(OFFSET) + pred_ids.astype(np.uint64)
    gt_pred = {}
    for label, n in zip(*np.unique(pairs, return_counts=True), strict=True):
        gt_pred[(int(label) // OFFSET, int(label) % OFFSET)] = int(n)
    gt_matched, pred_matched = set(), set()
    for (g, p), inter in gt_pred.items():
        if g not in gt_segs or p not in pred_segs or is_crowd(g) or category(g) != category(p):
            continue
        union = pred_segs[p] + gt_segs[g] - inter - gt_pred.get((void_id, p), 0)
        iou = inter / union
        if iou > 0.5:
            stats[category(g)][0] += 1
            stats[category(g)][3] += iou
            gt_matched.add(g)
            pred_matched.add(p)
    crowd_by_class = {}
    for g in gt_segs:
        if g in gt_matched:
            continue
        if is_crowd(g):
            crowd_by_class[category(g)] = g
            continue
        stats[category(g)][2] += 1
    for p, area in pred_segs.items():
        if p in pred_matched:
            continue
        inter = gt_pred.get((void_id, p), 0)
        if category(p) in crowd_by_class:
            inter += gt_pred.get((crowd_by_class[category(p)], p), 0)
        if inter / area > 0.5:
            continue
        stats[category(p)][1] += 1


def reference_vpq(
    sequences, windows=(1, 2, 3, 4), lam: float | None = None, class_mean: str = "present"
) -> dict[int, float]:
    """PQ per window size over sequences of (gt sem, gt inst, pred sem, pred inst, gt depth, pred depth).

    ``class_mean``: "present" averages the classes with a segment (VPSNet's eval_vpq), "all" every
    one of the NUM_CLASSES, an absent class counting 0 (ViP-DeepLab's eval_dvpq).
    """
    out = {}
    for k in windows:
        stats: dict[int, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
        for frames in sequences.values():
            for start in range(len(frames) - k + 1):
                gts, preds = [], []
                for gs, gi, ps, pi, gd, pd in frames[start : start + k]:
                    pred = _panoptic(ps, pi)
                    if lam is not None:
                        wrong = (gd > 0) & (np.abs(pd - gd) / np.where(gd > 0, gd, 1) > lam)
                        pred = np.where(wrong, NUM_CLASSES << SHIFT, pred)
                    gts.append(_panoptic(gs, gi))
                    preds.append(pred)
                _vpq_tube(np.concatenate(gts, axis=1), np.concatenate(preds, axis=1), stats)
        pqs = []
        for c in range(NUM_CLASSES):
            tp, fp, fn, iou = stats.get(c, (0, 0, 0, 0.0))
            if tp + fp + fn == 0:
                if class_mean == "all":
                    pqs.append(0.0)
                continue
            pqs.append(iou / (tp + 0.5 * fp + 0.5 * fn))
        out[k] = float(np.mean(pqs)) if pqs else float("nan")
    return out
