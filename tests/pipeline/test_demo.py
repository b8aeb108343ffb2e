"""``vkstream demo``, the main job, on a few frames: everything it promises is there at the end."""

from __future__ import annotations

from pathlib import Path

import cv2

from tests.conftest import REPO


def test_demo_replays_publishes_records_and_scores(ray_session: str, cli, tmp_path: Path) -> None:
    data, out = tmp_path / "demo", tmp_path / "out"
    result = cli(
        "demo", "--data", data, "--out", out, "--frames", "8", "--speed", "0.5", "--threads", "1",
        "--checkpoint", REPO / "checkpoints" / "synth_small.pt",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "received by the subscriber" in result.out
    assert "cam0" in result.out and "cam1" in result.out
    assert "total" in result.out and "DSTQ" in result.out  # the online evaluation table
    for stream in ("cam0", "cam1"):
        video = cv2.VideoCapture(str(out / f"{stream}.mp4"))
        assert video.isOpened() and video.get(cv2.CAP_PROP_FRAME_COUNT) >= 1
        video.release()
        assert (out / f"{stream}_strip.png").is_file()
    again = cli("demo", "--data", data, "--out", out, "--frames", "20")
    assert "too short" in again.one_line_error("vkstream demo")
