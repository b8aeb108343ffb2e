"""Diagnostics of ``vkstream eval`` on cases computed by hand, merged states and the mask-grid oracle.

Frames are one row of 32 pixels built like the hand cases' (``"car:5 x8"`` = 8 pixels of car track 5).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.eval.test_metrics_hand_cases import frame
from vkstream.data import Frame
from vkstream.eval import Evaluator
from vkstream.eval.oracle import on_mask_grid

ROOT = Path(__file__).resolve().parents[2]


def case() -> list[tuple[Frame, Frame]]:
    """One car track of 16 pixels per frame next to 16 road pixels, over two frames.

    Frame 0: 10 of the car's pixels are predicted as track 5, 6 as car without a track. Frame 1: all
    of it as track 6 (an id switch).
    """
    gt = ("road x16", "car:1 x16")
    return [
        (frame(gt, 0), frame(("road x16", "car:5 x10", "car x6"), 0)),
        (frame(gt, 1), frame(("road x16", "car:6 x16"), 1)),
    ]


def diagnose(pairs: list[tuple[Frame, Frame]], **kwargs: object) -> dict:
    evaluator = Evaluator(("stq", "vpq"), diagnostics=True, **kwargs)  # type: ignore[arg-type]
    for gt, pred in pairs:
        evaluator.update(gt, pred)
    result = evaluator.result()
    assert result.diagnostics is not None
    return result.diagnostics


def test_hand_case() -> None:
    diag = diagnose(case())
    rows = {row["name"]: row for row in diag["classes"]}
    assert set(rows) == {"road", "car"}
    assert rows["road"]["iou"] == 1.0 and rows["car"]["iou"] == 1.0  # classes alone are right
    assert rows["road"]["pq"] == 1.0
    # Car, per frame: frame 0 matches track 5 (IoU 10/16) and has a false positive (the untracked
    # pixels); frame 1 matches track 6 (IoU 1).
    assert rows["car"]["pq"] == pytest.approx((10 / 16 + 1.0) / (2 + 0.5 * 1))
    assert rows["car"]["thing"] and not rows["road"]["thing"]
    assert rows["car"]["gt_pixels"] == 32
    assert diag["untracked_share"] == pytest.approx(6 / 32)
    # AQ of the track, over its 32 pixels: tracks 5 and 6 add 10 * (10/32) / 32 and 16 * (16/32) / 32,
    # and the untracked car pixels, one predicted segment for deeplab2, 6 * (6/32) / 32.
    # Its mean visible area is 16 pixels.
    aq = (10 * 10 / 32 + 16 * 16 / 32 + 6 * 6 / 32) / 32
    buckets = {b["min_px"]: b for b in diag["aq_by_size"]}
    assert buckets[0]["tracks"] == 1 and buckets[0]["aq"] == pytest.approx(aq)
    assert all(b["tracks"] == 0 and b["aq"] is None for lo, b in buckets.items() if lo > 0)
    assert diag["tracks"] == 1 and diag["tracked_share"] == 1.0
    assert diag["id_switches_per_track"] == 1.0 and diag["ids_per_track"] == 2.0


def test_an_id_covering_half_a_track_or_less_is_not_its_id() -> None:
    gt = ("road x16", "car:1 x16")
    pairs = [
        (frame(gt, 0), frame(("road x16", "car:5 x12", "car:7 x4"), 0)),
        (frame(gt, 1), frame(("road x16", "car:7 x8", "car:5 x8"), 1)),  # nobody covers more than half
        (frame(gt, 2), frame(("road x16", "car:5 x16"), 2)),
    ]
    diag = diagnose(pairs)
    assert diag["id_switches_per_track"] == 0.0 and diag["ids_per_track"] == 1.0


def test_a_steady_id_is_no_switch_and_an_untracked_track_has_no_ids() -> None:
    gt = ("road x8", "car:1 x8", "person:2 x16")
    pairs = [(frame(gt, i), frame(("road x8", "car:3 x8", "person x16"), i)) for i in range(3)]
    diag = diagnose(pairs)
    assert diag["tracks"] == 2
    assert diag["id_switches_per_track"] == 0.0
    assert diag["ids_per_track"] == 1.0  # over tracks that got an id at all
    assert diag["tracked_share"] == 0.5
    assert diag["untracked_share"] == pytest.approx(48 / 72)


def test_merged_states_equal_one_state() -> None:
    pairs = case()
    other = [
        (frame(g, i, seq="0001"), frame(p, i, seq="0001"))
        for i, (g, p) in enumerate(
            (
                (("car:2 x20", "road x12"), ("car:2 x20", "sidewalk x12")),
                (("car:2 x20", "road x12"), ("car:9 x20", "road x12")),
            )
        )
    ]
    whole = Evaluator(("stq",), diagnostics=True)
    a, b = Evaluator(("stq",), diagnostics=True), Evaluator(("stq",), diagnostics=True)
    for gt, pred in pairs + other:
        whole.update(gt, pred)
    for gt, pred in pairs:
        a.update(gt, pred)
    for gt, pred in other:
        b.update(gt, pred)
    a.merge(b)
    assert a.result().diagnostics == whole.result().diagnostics
    assert json.loads(json.dumps(whole.result().to_json()))["diagnostics"]["tracks"] == 2


def test_diagnostics_print_in_the_table() -> None:
    evaluator = Evaluator(("stq",), diagnostics=True)
    for gt, pred in case():
        evaluator.update(gt, pred)
    table = evaluator.result().format_table()
    assert "per class (%)" in table and "car*" in table
    assert "AQ by track size" in table and "left untracked: 18.8 %" in table
    assert "id switches per track 1.00" in table
    assert Evaluator(("stq",)).settings["diagnostics"] is False


def test_the_mask_grid_oracle_degrades_to_cells() -> None:
    semantic = np.arange(6 * 10, dtype=np.uint8).reshape(6, 10) % 19
    instance = np.arange(6 * 10, dtype=np.uint16).reshape(6, 10)
    depth = np.linspace(1, 60, 60, dtype=np.float32).reshape(6, 10)
    f = Frame("0000", 0, 0.0, np.zeros((6, 10, 3), np.uint8), semantic, instance, depth)
    same = on_mask_grid(f, 1)
    np.testing.assert_array_equal(same.semantic, semantic)
    grid = on_mask_grid(f, 4)
    assert grid.image is None and grid.semantic.shape == (6, 10)
    # Each 4x4 cell takes its centre pixel (2, 2); the last partial cells take their nearest pixel.
    assert grid.semantic[0, 0] == semantic[2, 2] and grid.semantic[3, 3] == semantic[2, 2]
    assert grid.semantic[5, 9] == semantic[5, 9]  # cell (1, 2): centre (6, 10) clipped to (5, 9)
    assert grid.instance[4, 5] == instance[5, 6] and grid.depth[0, 7] == depth[2, 6]
    with pytest.raises(ValueError, match="stride"):
        on_mask_grid(f, 0)


def test_the_oracle_script_scores_a_dataset(kitti_datasets: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "oracle.json"
    root = kitti_datasets["semkitti-dvps"]
    cmd = [sys.executable, str(ROOT / "benchmarks" / "oracle.py"), str(root), "--split", "train"]
    done = subprocess.run(
        [*cmd, "--stride", "1", "--json", str(out)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    perfect = json.loads(out.read_text())
    assert perfect["total"]["stq"] == pytest.approx(1.0) and perfect["stride"] == 1
    done = subprocess.run(
        [*cmd, "--stride", "8", "--json", str(out)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    coarse = json.loads(out.read_text())
    assert coarse["total"]["stq"] < 1.0 and "oracle: ground truth on a stride-8 grid" in done.stdout
    assert coarse["diagnostics"]["aq_by_size"]
