"""The streaming interface: interleaved sequences, merging partial states, and input checks."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from test_metrics_match_reference import random_sequences

from vkstream.data import Frame
from vkstream.eval import EvalError, Evaluator

ALL = ("stq", "dstq", "vpq", "dvpq")


def frames_of(data: dict[str, list[tuple[np.ndarray, ...]]]) -> dict[str, list[tuple[Frame, Frame]]]:
    return {
        name: [
            (Frame(name, i, 0.0, None, gs, gi, gd), Frame(name, i, 0.0, None, ps, pi, pd))
            for i, (gs, gi, ps, pi, gd, pd) in enumerate(frames)
        ]
        for name, frames in data.items()
    }


def test_interleaved_sequences_score_as_if_one_after_another() -> None:
    pairs = frames_of(random_sequences(7, sequences=3, frames=4))
    sequential, interleaved = Evaluator(ALL), Evaluator(ALL)
    for seq_pairs in pairs.values():
        for gt, pred in seq_pairs:
            sequential.update(gt, pred)
    for i in range(4):
        for seq_pairs in pairs.values():
            interleaved.update(*seq_pairs[i])
    a, b = sequential.result(), interleaved.result()
    assert a.total == pytest.approx(b.total, nan_ok=True)
    for name, row in a.sequences.items():
        assert row == pytest.approx(b.sequences[name], nan_ok=True)


def test_merged_partial_states_equal_one_state_and_survive_pickling() -> None:
    pairs = frames_of(random_sequences(8, sequences=4, frames=3))
    whole = Evaluator(ALL)
    parts = [Evaluator(ALL), Evaluator(ALL)]
    for n, (_, seq_pairs) in enumerate(pairs.items()):
        for gt, pred in seq_pairs:
            whole.update(gt, pred)
            parts[n % 2].update(gt, pred)
    merged = pickle.loads(pickle.dumps(parts[0]))
    merged.merge(pickle.loads(pickle.dumps(parts[1])))
    assert merged.result().total == pytest.approx(whole.result().total, nan_ok=True)
    assert merged.frames == whole.frames == 12


def test_merging_refuses_a_sequence_scored_twice_or_other_settings() -> None:
    pairs = frames_of(random_sequences(9, sequences=1, frames=2))["0000"]
    a, b = Evaluator(ALL), Evaluator(ALL)
    a.update(*pairs[0])
    b.update(*pairs[1])
    with pytest.raises(ValueError, match="sequence 0000 was scored in both"):
        a.merge(b)
    with pytest.raises(EvalError, match="different metrics or settings"):
        a.merge(Evaluator(ALL, pred_on_void="ignore"))


def test_result_can_be_taken_while_scoring_goes_on() -> None:
    pairs = frames_of(random_sequences(10, sequences=1, frames=4))["0000"]
    evaluator = Evaluator(ALL)
    for gt, pred in pairs[:2]:
        evaluator.update(gt, pred)
    early = evaluator.result().total
    for gt, pred in pairs[2:]:
        evaluator.update(gt, pred)
    assert evaluator.result().total["frames"] == 4 and early["frames"] == 2


def _frame(
    semantic: np.ndarray | None, instance: np.ndarray | None = None, depth: np.ndarray | None = None
) -> Frame:
    return Frame("0003", 7, 0.7, None, semantic, instance, depth)


ROAD = np.zeros((4, 6), dtype=np.uint8)
DEPTH = np.full((4, 6), 10.0, dtype=np.float32)


@pytest.mark.parametrize(
    ("metrics", "gt", "pred", "message"),
    [
        (("stq",), _frame(None), _frame(ROAD), "frame 0003/7: the ground truth has no panoptic labels"),
        (
            ("stq",),
            _frame(ROAD),
            _frame(np.zeros((5, 6), np.uint8)),
            "prediction is 6x5 but the ground truth is 6x4",
        ),
        (("stq",), _frame(ROAD), _frame(ROAD + 40), r"prediction has unknown class ids \[40\]"),
        (("stq",), _frame(ROAD), _frame(ROAD.astype(np.int32) - 1), "class ids must lie in 0-255"),
        (("stq",), _frame(ROAD), _frame(ROAD.astype(float)), "class ids must be integers"),
        (("stq",), _frame(ROAD), _frame(ROAD, np.full((4, 6), 70000)), "instance ids must lie in 0-65535"),
        (("dstq",), _frame(ROAD), _frame(ROAD, None, DEPTH), "ground truth has no depth, which dstq need"),
        (("dvpq",), _frame(ROAD, None, DEPTH), _frame(ROAD), "prediction has no depth, which dvpq need"),
    ],
)
def test_bad_inputs_get_one_clear_error(metrics, gt: Frame, pred: Frame, message: str) -> None:
    evaluator = Evaluator(metrics)
    with pytest.raises(EvalError, match=message):
        evaluator.update(gt, pred)
    assert evaluator.frames == 0


def test_bad_settings_get_clear_errors() -> None:
    with pytest.raises(EvalError, match="unknown metrics"):
        Evaluator(("stq", "pq"))
    with pytest.raises(ValueError, match="window sizes"):
        Evaluator(("vpq",), vpq_windows=(0, 1))
    with pytest.raises(ValueError, match="ratios above 1"):
        Evaluator(("dstq",), dq_thresholds=(0.9,))
    with pytest.raises(ValueError, match="thing classes"):
        Evaluator(("stq",), thing_ids=(11, 40))
    with pytest.raises(EvalError, match="no frames were scored"):
        Evaluator(("stq",)).result()


def test_predicted_depth_of_another_size_is_resized_to_the_ground_truth() -> None:
    evaluator = Evaluator(("dstq",))
    small = np.full((2, 3), 10.0, dtype=np.float32)
    evaluator.update(_frame(ROAD, None, DEPTH), _frame(ROAD, None, small))
    assert evaluator.result().total["dq"] == 1.0


def test_negative_and_nan_predicted_depth_count_as_no_estimate() -> None:
    evaluator = Evaluator(("dstq", "dvpq"), dvpq_windows=(1,), class_mean="present")
    pred = DEPTH.copy()
    pred[0, :3] = (-10.0, np.nan, np.inf)
    evaluator.update(_frame(ROAD, None, DEPTH), _frame(ROAD, None, pred))
    scores = evaluator.result().total
    assert scores["dq"] == pytest.approx(21 / 24)
    # 3 of 24 road pixels move to the wrong class at every lambda: road IoU 21/24 still matches.
    assert scores["dvpq"] == pytest.approx(21 / 24)
