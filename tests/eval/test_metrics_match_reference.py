"""The vectorised metrics give the reference algorithms' numbers on random frames."""

from __future__ import annotations

import numpy as np
import pytest
from eval_reference import ReferenceSTQ, reference_vpq

from vkstream.data import Frame
from vkstream.eval import Evaluator

H, W = 24, 32


def random_pair(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Blocky labels (so segments overlap a lot) with void, crowd, a few tracks and noisy depth."""
    classes = np.r_[0, 1, 2, 8, 10, 11, 11, 13, 13, 13, 255]

    def labels() -> tuple[np.ndarray, np.ndarray]:
        semantic = np.repeat(np.repeat(rng.choice(classes, (6, 8)), 4, 0), 4, 1).astype(np.uint8)
        semantic[rng.random((H, W)) < 0.05] = rng.choice(classes)
        instance = np.where(np.isin(semantic, (11, 13)), rng.integers(0, 4, (H, W)), 0).astype(np.uint16)
        return semantic, instance

    gt_sem, gt_inst = labels()
    pred_sem, pred_inst = labels()
    keep = rng.random((H, W)) < 0.6  # predictions agree with the ground truth on most pixels
    pred_sem = np.where(keep, gt_sem, pred_sem)
    pred_sem[pred_sem == 255] = 0  # models never output void
    pred_inst = np.where(keep & np.isin(pred_sem, (11, 13)), gt_inst, pred_inst).astype(np.uint16)
    pred_inst[~np.isin(pred_sem, (11, 13))] = 0
    gt_depth = np.where(rng.random((H, W)) < 0.3, 0.0, rng.uniform(1, 80, (H, W))).astype(np.float32)
    pred_depth = (gt_depth * rng.uniform(0.7, 1.4, (H, W))).astype(np.float32)
    pred_depth[rng.random((H, W)) < 0.1] = rng.uniform(1, 80)
    return gt_sem, gt_inst, pred_sem, pred_inst, gt_depth, pred_depth


def random_sequences(
    seed: int, sequences: int = 2, frames: int = 5
) -> dict[str, list[tuple[np.ndarray, ...]]]:
    rng = np.random.default_rng(seed)
    return {f"{s:04d}": [random_pair(rng) for _ in range(frames)] for s in range(sequences)}


def score(data: dict[str, list[tuple[np.ndarray, ...]]], **kwargs: object) -> dict[str, float]:
    evaluator = Evaluator(("stq", "dstq", "vpq", "dvpq"), **kwargs)  # type: ignore[arg-type]
    for name, frames in data.items():
        for i, (gs, gi, ps, pi, gd, pd) in enumerate(frames):
            evaluator.update(Frame(name, i, 0.0, None, gs, gi, gd), Frame(name, i, 0.0, None, ps, pi, pd))
    return evaluator.result().total


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("pred_on_void", ["count", "ignore"])
def test_stq_and_dstq_equal_the_reference(seed: int, pred_on_void: str) -> None:
    data = random_sequences(seed)
    reference = ReferenceSTQ(pred_on_void=pred_on_void)
    for name, frames in data.items():
        for frame in frames:
            reference.update(*frame[:4], name, *frame[4:])
    expected = reference.result()
    got = score(data, pred_on_void=pred_on_void)
    for key in ("stq", "aq", "sq", "dq", "dq@1.25", "dq@1.1", "dstq"):
        assert got[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-15), key
    assert 0.05 < got["aq"] < 0.95 and 0.05 < got["sq"] < 0.95  # a case that exercises every term


@pytest.mark.parametrize("seed", [3, 4])
def test_vpq_and_dvpq_equal_the_reference(seed: int) -> None:
    data = random_sequences(seed, frames=6)
    got = score(data, dvpq_windows=(1, 2, 5))
    vpq = reference_vpq(data)
    for k, value in vpq.items():
        assert got[f"vpq@k{k}"] == pytest.approx(value, rel=1e-12), k
    assert got["vpq"] == pytest.approx(np.mean(list(vpq.values())), rel=1e-12)
    present = score(data, dvpq_windows=(1, 2, 5), class_mean="present")
    for scores, mean in ((got, "all"), (present, "present")):  # DVPQ's default is its script's: all
        dvpq_all = []
        for lam in (0.5, 0.25, 0.1):
            dvpq = reference_vpq(data, windows=(1, 2, 5), lam=lam, class_mean=mean)
            for k, value in dvpq.items():
                assert scores[f"dvpq@k{k},l{lam:g}"] == pytest.approx(value, rel=1e-12), (k, lam, mean)
            dvpq_all += list(dvpq.values())
        assert scores["dvpq"] == pytest.approx(np.mean(dvpq_all), rel=1e-12)
    assert 0.0 < got["dvpq"] < present["dvpq"] < present["vpq"] < 1.0
    assert present["vpq"] == got["vpq"]  # VPQ's default mean is its script's: the classes present


def test_permuting_predicted_ids_changes_nothing() -> None:
    data = random_sequences(5)
    permutation = np.random.default_rng(0).permutation(65536).astype(np.uint16)
    permutation[0] = 0  # 0 stays "no track"; any other id maps to another, consistently per sequence
    permuted = {
        name: [(gs, gi, ps, permutation[pi], gd, pd) for gs, gi, ps, pi, gd, pd in frames]
        for name, frames in data.items()
    }
    before, after = score(data), score(permuted)
    for key in ("stq", "aq", "sq", "vpq", "dvpq", "dstq"):
        assert after[key] == pytest.approx(before[key], rel=1e-12), key
