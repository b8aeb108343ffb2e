"""Scoring a folder of predictions against a folder of ground truth, optionally in parallel processes."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from vkstream.data.base import SequenceDataset
from vkstream.data.datasets import open_dataset
from vkstream.eval.evaluator import DVPQ_WINDOWS_BY_LAYOUT, Evaluator
from vkstream.eval.pairing import PairPlan, iter_pairs, plan_pairs
from vkstream.eval.result import EvalResult

Progress = Callable[[int], None]
"""Called with a number of frames just scored."""


@dataclass(frozen=True)
class FolderPair:
    """Where the ground truth and the predictions are, and how to read them."""

    gt_root: str | os.PathLike[str]
    pred_root: str | os.PathLike[str]
    split: str = "train"
    gt_layout: str | None = None
    pred_layout: str | None = None
    """None: the ground truth's layout when detection finds the same, else what is detected."""
    allow_missing: bool = False
    evaluator: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of :class:`Evaluator` (metrics, windows, thresholds, ...)."""

    def open(self) -> tuple[SequenceDataset, SequenceDataset]:
        gt = open_dataset(self.gt_root, layout=self.gt_layout, split=self.split, read_images=False)
        pred = open_dataset(self.pred_root, layout=self.pred_layout, split=self.split, read_images=False)
        return gt, pred


def default_metrics(gt: SequenceDataset) -> tuple[str, ...]:
    """STQ and VPQ, plus DSTQ and DVPQ when the ground truth has depth (judged by its first frame)."""
    first = next(gt.frames(gt.sequences[0]))
    return ("stq", "dstq", "vpq", "dvpq") if first.depth is not None else ("stq", "vpq")


def evaluator_settings(pair: FolderPair, gt: SequenceDataset) -> dict[str, Any]:
    """The evaluator's arguments with dataset-dependent defaults filled in."""
    settings = dict(pair.evaluator)
    settings.setdefault("metrics", default_metrics(gt))
    settings.setdefault("dvpq_windows", DVPQ_WINDOWS_BY_LAYOUT.get(gt.layout, (1, 2, 3, 4)))
    return settings


def evaluate_folders(
    pair: FolderPair,
    *,
    workers: int = 1,
    progress: Progress | None = None,
    on_start: Progress | None = None,
) -> EvalResult:
    """Score every ground-truth frame; ``workers`` > 1 scores sequences in that many processes.

    ``on_start`` gets the number of frames to score once the folders are checked (a progress total).
    """
    gt, pred = pair.open()
    plan = plan_pairs(gt, pred, allow_missing=pair.allow_missing)
    if on_start is not None:
        on_start(sum(len(numbers) for numbers in plan.frames.values()))
    settings = evaluator_settings(pair, gt)
    if workers <= 1 or len(gt.sequences) == 1:
        evaluator = _score(gt, pred, plan, gt.sequences, settings, progress)
        return evaluator.result()
    evaluator = Evaluator(**settings)
    groups = [gt.sequences[i::workers] for i in range(min(workers, len(gt.sequences)))]
    with ProcessPoolExecutor(max_workers=len(groups)) as pool:
        futures = {pool.submit(_score_in_worker, pair, plan, group, settings): group for group in groups}
        for future in as_completed(futures):
            partial = future.result()
            evaluator.merge(partial)
            if progress is not None:
                progress(partial.frames)
    return evaluator.result()


def _score(
    gt: SequenceDataset,
    pred: SequenceDataset,
    plan: PairPlan,
    sequences: list[str],
    settings: dict[str, Any],
    progress: Progress | None,
) -> Evaluator:
    evaluator = Evaluator(**settings)
    for sequence in sequences:
        for truth, guess in iter_pairs(gt, pred, plan, sequence):
            evaluator.update(truth, guess, sequence)
            if progress is not None:
                progress(1)
    return evaluator


def _score_in_worker(
    pair: FolderPair, plan: PairPlan, sequences: list[str], settings: dict[str, Any]
) -> Evaluator:
    gt, pred = pair.open()
    return _score(gt, pred, plan, sequences, settings, None)
