"""``vkstream eval`` on ground truth and predictions written in the official layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vkstream.data import Frame, Intrinsics, make_writer

WIDTH, HEIGHT = 48, 32
SEQUENCES = {"0001": 5, "0002": 4}


def scene(sequence: str, index: int, track: int = 1, shift: int = 0, width: int = WIDTH) -> Frame:
    """Sky over road with a car (track ``track``) driving right; depth grows with the row."""
    semantic = np.zeros((HEIGHT, width), np.uint8)
    semantic[: HEIGHT // 3] = 10
    semantic[-2:] = 255  # void (ego hood)
    instance = np.zeros((HEIGHT, width), np.uint16)
    x = 4 + 3 * index + shift
    semantic[14:24, x : x + 10], instance[14:24, x : x + 10] = 13, track
    depth = np.repeat(np.linspace(80, 4, HEIGHT, dtype=np.float32)[:, None], width, 1)
    depth[semantic == 255] = 0
    return Frame(
        sequence,
        index,
        index / 10,
        None,
        semantic,
        instance,
        depth,
        Intrinsics(50.0, 50.0, width / 2, HEIGHT / 2),
    )


def write(root: Path, layout: str, frames: list[Frame]) -> Path:
    writer = make_writer(layout, root, "val")
    for frame in frames:
        if frame.semantic is not None:
            frame.semantic = (
                np.where(frame.semantic == 255, 0, frame.semantic) if "pred" in root.name else frame.semantic
            )
        writer.write(frame)
    return root


@pytest.fixture(params=["kitti-step", "semkitti-dvps"])
def layout(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def ground_truth(tmp_path: Path, layout: str) -> Path:
    frames = [scene(seq, i) for seq, n in SEQUENCES.items() for i in range(n)]
    return write(tmp_path / "gt", layout, frames)


def name(layout: str, sequence: str) -> str:
    """Sequence names as the layout writes them (six digits in SemKITTI-DVPS file names)."""
    return sequence.zfill(6) if layout == "semkitti-dvps" else sequence


def run_eval(cli, gt: Path, pred: Path, *extra: str):
    return cli("eval", "--gt", gt, "--pred", pred, "--split", "val", "--no-progress", *extra)


def test_a_perfect_prediction_scores_100(cli, tmp_path: Path, ground_truth: Path, layout: str) -> None:
    pred = write(tmp_path / "pred", layout, [scene(seq, i) for seq, n in SEQUENCES.items() for i in range(n)])
    result = run_eval(
        cli, ground_truth, pred, "--json", tmp_path / "out" / "scores.json", "--class-mean", "present"
    )
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["sequence", "frames", "STQ", "AQ", "SQ", "DSTQ", "DQ", "VPQ", "DVPQ"]
    assert lines[2].split()[:3] == [name(layout, "0001"), "5", "100.0"]
    assert next(line for line in lines if line.startswith("total")).split()[1:] == ["9"] + ["100.0"] * 7
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert scores["total"]["stq"] == scores["total"]["dvpq"] == 1.0
    assert scores["sequences"][name(layout, "0002")]["frames"] == 4
    assert scores["settings"]["dvpq_windows"] == (
        [1, 5, 10, 20] if layout == "semkitti-dvps" else [1, 2, 3, 4]
    )
    # By default DVPQ averages all 19 classes as ViP-DeepLab's eval_dvpq does: absent ones count 0.
    official = run_eval(cli, ground_truth, pred, "--json", tmp_path / "official.json")
    assert official.code == 0, official.err
    default = json.loads((tmp_path / "official.json").read_text())
    present = len([c for c in default["diagnostics"]["classes"] if c["pq"] is not None])
    assert default["total"]["vpq"] == 1.0
    assert default["total"]["dvpq"] == pytest.approx(present / 19)
    assert default["settings"]["dvpq_class_mean"] == "all"


def test_id_switches_lower_aq_and_parallel_workers_agree(
    cli, tmp_path: Path, ground_truth: Path, layout: str
) -> None:
    pred = write(
        tmp_path / "pred",
        layout,
        [scene(seq, i, track=1 if i < 2 else 9, shift=1) for seq, n in SEQUENCES.items() for i in range(n)],
    )
    one = run_eval(cli, ground_truth, pred, "--json", tmp_path / "one.json")
    two = run_eval(cli, ground_truth, pred, "--json", tmp_path / "two.json", "--workers", "2")
    assert one.code == two.code == 0, one.err + two.err
    a, b = (json.loads((tmp_path / name).read_text()) for name in ("one.json", "two.json"))
    assert a == b
    assert 0.3 < a["total"]["aq"] < 0.7
    assert a["total"]["sq"] > 0.9


def test_missing_predictions_are_named_or_scored_empty(
    cli, tmp_path: Path, ground_truth: Path, layout: str
) -> None:
    frames = [
        scene(seq, i)
        for seq, n in SEQUENCES.items()
        for i in range(n)
        if (seq, i) not in {("0001", 3), ("0002", 0)}
    ]
    pred = write(tmp_path / "pred", layout, frames)
    message = run_eval(cli, ground_truth, pred).one_line_error("vkstream eval")
    listed = f"for 2 ground-truth frames: {name(layout, '0001')}/000003, {name(layout, '0002')}/000000"
    assert "no prediction" in message and listed in message
    allowed = run_eval(cli, ground_truth, pred, "--allow-missing", "--json", tmp_path / "s.json")
    assert allowed.code == 0, allowed.err
    scores = json.loads((tmp_path / "s.json").read_text())["total"]
    # One 100-pixel car track per sequence, seen in 4 of 5 and 3 of 4 frames: TPA * IoU / |track|.
    assert scores["frames"] == 9
    assert scores["aq"] == pytest.approx((400 * 400 / 500 / 500 + 300 * 300 / 400 / 400) / 2)
    assert scores["sq"] < 1.0  # an empty prediction is void: the extra class of IoU 0


def test_extra_and_misfit_predictions_are_named(cli, tmp_path: Path, ground_truth: Path, layout: str) -> None:
    frames = [scene(seq, i) for seq, n in SEQUENCES.items() for i in range(n)]
    extra = write(tmp_path / "pred_extra", layout, [*frames, scene("0002", 7)])
    message = run_eval(cli, ground_truth, extra).one_line_error("vkstream eval")
    assert "no ground truth" in message and f"for 1 predicted frame: {name(layout, '0002')}/000007" in message
    misfit = [
        scene(seq, i, width=WIDTH + 2 if (seq, i) == ("0002", 1) else WIDTH)
        for seq, i in [(f.sequence, f.index) for f in frames]
    ]
    pred = write(tmp_path / "pred_misfit", layout, misfit)
    message = run_eval(cli, ground_truth, pred).one_line_error("vkstream eval")
    assert (
        f"frame {name(layout, '0002')}/000001" in message
        and "is 50x32 but the ground truth" in message
        and "48x32" in message
    )


def test_metric_choice_and_bad_arguments(cli, tmp_path: Path, ground_truth: Path, layout: str) -> None:
    pred = tmp_path / "pred"
    shutil.copytree(ground_truth, pred)
    chosen = run_eval(cli, ground_truth, pred, "--metrics", "vpq,stq", "--vpq-windows", "1,3")
    assert chosen.code == 0, chosen.err
    assert chosen.out.splitlines()[0].split() == ["sequence", "frames", "STQ", "AQ", "SQ", "VPQ"]
    assert "k=1 100.0   k=3 100.0" in chosen.out
    assert "unknown metrics ['pq']" in run_eval(
        cli, ground_truth, pred, "--metrics", "stq,pq"
    ).one_line_error("vkstream eval")
    assert "--vpq-windows" in run_eval(cli, ground_truth, pred, "--vpq-windows", "1,x").one_line_error(
        "vkstream eval"
    )
    assert "dataset folder not found" in run_eval(cli, tmp_path / "nope", pred).one_line_error(
        "vkstream eval"
    )
    assert "--workers" in run_eval(cli, ground_truth, pred, "--workers", "0").one_line_error("vkstream eval")


def test_the_frame_count_is_known_before_scoring(tmp_path: Path, ground_truth: Path, layout: str) -> None:
    from vkstream.eval.folders import FolderPair, evaluate_folders

    pred = tmp_path / "pred"
    shutil.copytree(ground_truth, pred)
    totals: list[int] = []
    scored: list[int] = []
    result = evaluate_folders(
        FolderPair(ground_truth, pred, split="val"), progress=scored.append, on_start=totals.append
    )
    assert totals == [sum(SEQUENCES.values())] == [sum(scored)] == [int(result.total["frames"])]
