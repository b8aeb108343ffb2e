"""Small cases computed by hand: each pins one rule of STQ, DSTQ, VPQ or DVPQ.

Frames are one row of 20 pixels; ``labels("car:1 x10", "road x10")`` reads "10 pixels of car track 1,
then 10 pixels of road". Class ids: road 0, sidewalk 1, person 11, car 13, void 255.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from vkstream.data import Frame
from vkstream.eval import Evaluator

CLASS_IDS = {"road": 0, "sidewalk": 1, "person": 11, "car": 13, "void": 255}


def labels(*runs: str) -> tuple[np.ndarray, np.ndarray]:
    semantic, instance = [], []
    for run in runs:
        name, count = run.split(" x")
        cls, _, inst = name.partition(":")
        semantic += [CLASS_IDS[cls]] * int(count)
        instance += [int(inst or 0)] * int(count)
    return np.array([semantic], dtype=np.uint8), np.array([instance], dtype=np.uint16)


def frame(
    runs: tuple[str, ...], index: int = 0, depth: list[float] | None = None, seq: str = "0000"
) -> Frame:
    semantic, instance = labels(*runs)
    depth_map = None if depth is None else np.array([depth], dtype=np.float32)
    return Frame(seq, index, index / 10, None, semantic, instance, depth_map)


def total(pairs: list[tuple[Frame, Frame]], metrics: tuple[str, ...] = ("stq", "vpq"), **kwargs) -> dict:
    evaluator = Evaluator(metrics, **kwargs)
    for gt, pred in pairs:
        evaluator.update(gt, pred)
    return evaluator.result().total


def test_a_track_that_switches_id_half_way() -> None:
    gt = ("car:1 x10", "road x10")
    pairs = [(frame(gt, 0), frame(gt, 0)), (frame(gt, 1), frame(("car:2 x10", "road x10"), 1))]
    scores = total(pairs, vpq_windows=(1, 2))
    # One track of 20 pixels, half in each predicted id: AQ = (10 * 10/20 + 10 * 10/20) / 20.
    assert scores["aq"] == pytest.approx(0.5)
    assert scores["sq"] == pytest.approx(1.0)
    assert scores["stq"] == pytest.approx(math.sqrt(0.5))
    # Per frame every segment matches; the 2-frame tube splits the car into two IoU-0.5 halves,
    # neither above 0.5: car PQ 0 (1 FN, 2 FP), road PQ 1.
    assert scores["vpq@k1"] == pytest.approx(1.0)
    assert scores["vpq@k2"] == pytest.approx(0.5)
    assert scores["vpq"] == pytest.approx(0.75)


def test_crowd_pixels_leave_association_out() -> None:
    gt = frame(("car x5", "car:1 x5", "road x10"))  # car with instance 0 = crowd
    pred = frame(("car:7 x10", "road x10"))
    scores = total([(gt, pred)])
    # The predicted pixels on crowd are removed, so the track is predicted exactly.
    assert scores["aq"] == pytest.approx(1.0)
    assert scores["sq"] == pytest.approx(1.0)  # crowd still counts as car for the semantic term
    assert scores["tracks"] == 1


def test_void_is_ignored_and_unmatched_predictions_mostly_on_void_are_no_false_positive() -> None:
    gt = frame(("void x10", "road x10"))
    on_void = frame(("car:3 x6", "road x14"))  # car entirely on void
    partly = frame(("road x8", "car:3 x6", "road x6"))  # car: 2 px on void, 4 on road
    scores = total([(gt, on_void)], metrics=("vpq",))
    assert scores["vpq"] == pytest.approx(1.0)  # road IoU 10 / (10 + 14 - 10 - 4 void) = 1
    scores = total([(gt, partly)])
    # Road: 6 px overlap, union 10 + 14 - 6 - 8 on void = 10 -> IoU 0.6, a match; car: a false positive.
    assert scores["vpq"] == pytest.approx((0.6 + 0.0) / 2)
    # SQ: road 6 / 10, car 0 / 4.
    assert scores["sq"] == pytest.approx(0.3)
    assert scores["aq"] == 0.0 and scores["tracks"] == 0


def test_a_false_positive_mostly_on_its_class_crowd_is_not_counted() -> None:
    gt = frame(("car x12", "road x8"))  # crowd car
    pred = frame(("car:4 x10", "road x10"))
    scores = total([(gt, pred)], metrics=("vpq",))
    # car:4 lies 10/10 on car crowd -> ignored; road: 8 / (8 + 10 - 8) = 0.8.
    assert scores["vpq"] == pytest.approx(0.8)


def test_a_thing_class_predicted_on_a_stuff_region() -> None:
    gt = frame(("car:1 x10", "road x10"))
    pred = frame(("car:1 x15", "road x5"))
    scores = total([(gt, pred)])
    assert scores["aq"] == pytest.approx(10 * (10 / 15) / 10)  # the 5 road pixels are false positives
    assert scores["sq"] == pytest.approx((10 / 15 + 5 / 10) / 2)
    # car IoU 10/15 > 0.5 and road 5/10 is not: car PQ 2/3, road 0 (1 FN, 1 FP).
    assert scores["vpq"] == pytest.approx((10 / 15) / 2)


@pytest.mark.parametrize(("policy", "expected_aq"), [("count", 10 * (10 / 15) / 10), ("ignore", 1.0)])
def test_predicted_thing_pixels_on_void(policy: str, expected_aq: float) -> None:
    gt = frame(("car:1 x10", "void x5", "road x5"))
    pred = frame(("car:1 x15", "road x5"))
    scores = total([(gt, pred)], pred_on_void=policy)
    assert scores["aq"] == pytest.approx(expected_aq)
    assert scores["sq"] == pytest.approx(1.0)


def test_predicted_void_on_valid_ground_truth_adds_a_class_with_iou_zero() -> None:
    gt = frame(("road x10", "sidewalk x10"))
    pred = frame(("road x10", "void x5", "sidewalk x5"))
    scores = total([(gt, pred)])
    assert scores["sq"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)


def test_depth_just_inside_and_just_outside_each_threshold() -> None:
    gt = frame(("car:1 x2", "road x4"), depth=[10, 10, 10, 10, 10, 0])
    # ratios 1.24, 1.26, 1.09, 1.111, no estimate; the last pixel has no ground truth
    pred = frame(("car:1 x2", "road x4"), depth=[12.4, 12.6, 10.9, 9.0, 0.0, 5.0])
    scores = total([(gt, pred)], metrics=("dstq",))
    assert scores["dq@1.25"] == pytest.approx(3 / 5)
    assert scores["dq@1.1"] == pytest.approx(1 / 5)
    assert scores["dq"] == pytest.approx(math.sqrt(0.6 * 0.2))
    assert scores["depth_abs_rel"] == pytest.approx((0.24 + 0.26 + 0.09 + 0.1 + 1.0) / 5, rel=1e-6)
    assert scores["aq"] == scores["sq"] == 1.0
    assert scores["dstq"] == pytest.approx(math.sqrt(0.12) ** (1 / 3))


def test_dvpq_moves_pixels_with_a_large_depth_error_to_a_wrong_class() -> None:
    gt = frame(("road x4",), depth=[10, 10, 10, 10])
    pred = frame(("road x4",), depth=[10.4, 11.5, 13.0, 16.0])  # relative errors 0.04, 0.15, 0.3, 0.6
    scores = total([(gt, pred)], metrics=("dvpq",), dvpq_windows=(1,), class_mean="present")
    assert scores["dvpq@k1,l0.5"] == pytest.approx(0.75)  # 3 of 4 pixels kept: IoU 0.75
    assert scores["dvpq@k1,l0.25"] == 0.0  # IoU 0.5 is not a match
    assert scores["dvpq@k1,l0.1"] == 0.0
    assert scores["dvpq"] == pytest.approx(0.25)
    # ViP-DeepLab's eval_dvpq (the default for DVPQ) averages all 19 classes; the 18 absent ones count 0.
    official = total([(gt, pred)], metrics=("dvpq",), dvpq_windows=(1,))
    assert official["dvpq@k1,l0.5"] == pytest.approx(0.75 / 19)
    assert official["dvpq"] == pytest.approx(0.25 / 19)


def test_the_class_mean_is_checked() -> None:
    with pytest.raises(ValueError, match="class_mean must be 'present' or 'all'"):
        Evaluator(("vpq",), class_mean="some")  # type: ignore[arg-type]
    settings = Evaluator(("vpq", "dvpq")).settings
    assert settings["vpq_class_mean"] == "present" and settings["dvpq_class_mean"] == "all"


def test_a_perfect_prediction_scores_one() -> None:
    rng = np.random.default_rng(0)
    evaluator = Evaluator(("stq", "dstq", "vpq", "dvpq"), class_mean="present")
    for i in range(5):
        semantic = rng.choice([0, 1, 2, 8, 10, 11, 13, 255], (30, 40)).astype(np.uint8)
        instance = np.where(np.isin(semantic, (11, 13)), rng.integers(0, 5, (30, 40)), 0).astype(np.uint16)
        depth = rng.uniform(1, 80, (30, 40)).astype(np.float32)
        truth = Frame("0001", i, 0.0, None, semantic, instance, depth)
        evaluator.update(
            truth, Frame("0001", i, 0.0, None, np.where(semantic == 255, 0, semantic), instance, depth)
        )
    for key, value in evaluator.result().total.items():
        if key == "depth_abs_rel":
            assert value == 0.0
        elif key not in ("frames", "tracks"):
            assert value == pytest.approx(1.0), key
