"""Pairing a ground-truth dataset with a prediction dataset frame by frame, with errors that name frames."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from vkstream.data.base import SequenceDataset
from vkstream.data.classes import VOID
from vkstream.data.frame import Frame
from vkstream.eval.errors import EvalError

_LISTED = 5
"""Frames named in a message before the rest are counted."""


@dataclass(frozen=True)
class PairPlan:
    """Which frames to score: every ground-truth frame, some with no prediction (scored as empty)."""

    frames: dict[str, list[int]]
    missing: dict[str, frozenset[int]] = field(default_factory=dict)


def plan_pairs(gt: SequenceDataset, pred: SequenceDataset, *, allow_missing: bool = False) -> PairPlan:
    """Check that the prediction covers the ground truth frame for frame, before reading any file.

    Predictions for frames the ground truth lacks are always an error (a wrong folder or split is
    the likely cause); missing predictions are an error unless ``allow_missing``.
    """
    gt_frames = {seq: gt.frame_numbers(seq) for seq in gt.sequences}
    pred_frames = {seq: set(pred.frame_numbers(seq)) for seq in pred.sequences}
    extra = [
        _name(seq, n)
        for seq, numbers in pred_frames.items()
        for n in sorted(numbers - set(gt_frames.get(seq, [])))
    ]
    if extra:
        raise EvalError(
            f"no ground truth in {gt.root} for {_count(extra, 'predicted frame')}: {_listing(extra)}"
        )
    missing = {
        seq: frozenset(n for n in numbers if n not in pred_frames.get(seq, set()))
        for seq, numbers in gt_frames.items()
    }
    missing = {seq: numbers for seq, numbers in missing.items() if numbers}
    if missing and not allow_missing:
        names = [_name(seq, n) for seq, numbers in missing.items() for n in sorted(numbers)]
        raise EvalError(
            f"no prediction in {pred.root} for {_count(names, 'ground-truth frame')}: {_listing(names)} "
            "(allow missing predictions to score them as empty)"
        )
    return PairPlan(gt_frames, missing)


def iter_pairs(
    gt: SequenceDataset, pred: SequenceDataset, plan: PairPlan, sequence: str
) -> Iterator[tuple[Frame, Frame]]:
    """(ground truth, prediction) of each frame of a sequence, in frame order."""
    missing = plan.missing.get(sequence, frozenset())
    predictions = pred.frames(sequence) if sequence in pred.sequences else iter(())
    for truth in gt.frames(sequence):
        if truth.index in missing:
            yield truth, empty_prediction(truth)
            continue
        guess = next(predictions)
        if truth.size != guess.size:
            raise EvalError(
                f"frame {_name(sequence, truth.index)}: the prediction {guess.source} is "
                f"{_wxh(guess.size)} but the ground truth {truth.source} is {_wxh(truth.size)}"
            )
        yield truth, guess


def empty_prediction(truth: Frame) -> Frame:
    """A prediction that says nothing: void labels, no tracks, no depth estimate."""
    height, width = truth.size
    return Frame(
        truth.sequence,
        truth.index,
        truth.timestamp,
        semantic=np.full((height, width), VOID, dtype=np.uint8),
        instance=np.zeros((height, width), dtype=np.uint16),
        depth=np.zeros((height, width), dtype=np.float32),
    )


def _name(sequence: str, number: int) -> str:
    return f"{sequence}/{number:06d}"


def _count(names: list[str], what: str) -> str:
    return f"1 {what}" if len(names) == 1 else f"{len(names)} {what}s"


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown if len(names) <= _LISTED else f"{shown} and {len(names) - _LISTED} more"


def _wxh(size: tuple[int, int]) -> str:
    return f"{size[1]}x{size[0]}"
