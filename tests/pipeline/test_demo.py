"""``vkstream demo``, the main job, on a few frames: everything it promises is there at the end."""

from __future__ import annotations

import socket
from pathlib import Path

import cv2

from tests.conftest import REPO
from tests.record.mcap_read import read_mcap
from vkstream.launch.demo import DemoOptions, demo_config, demo_endpoint, model_threads
from vkstream.pipeline.plan import plan_actors
from vkstream.record import topics as topics_of


def test_demo_replays_publishes_records_and_scores(ray_session: str, cli, tmp_path: Path) -> None:
    data, out = tmp_path / "demo", tmp_path / "out"
    result = cli(
        "demo", "--data", data, "--out", out, "--frames", "8", "--speed", "0.5", "--threads", "1",
        "--checkpoint", REPO / "checkpoints" / "synth_small.pt", "--port", "0", "--foxglove", "127.0.0.1:0",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert (
        "publishing on tcp://127.0.0.1:" in result.out and "serving Foxglove on ws://127.0.0.1:" in result.out
    )
    assert "received by the subscriber" in result.out
    assert "cam0" in result.out and "cam1" in result.out
    assert "total" in result.out and "DSTQ" in result.out  # the online evaluation table
    for stream in ("cam0", "cam1"):
        video = cv2.VideoCapture(str(out / f"{stream}.mp4"))
        assert video.isOpened() and video.get(cv2.CAP_PROP_FRAME_COUNT) >= 1
        video.release()
        assert (out / f"{stream}_strip.png").is_file()
    # The fan-out graph's recorder left the run in one MCAP file, camera images included.
    assert str(out / "demo.mcap") in result.out
    topics = {m.topic for m in read_mcap(out / "demo.mcap")}
    assert set(topics_of("cam0")) | set(topics_of("cam1")) == topics
    again = cli("demo", "--data", data, "--out", out, "--frames", "20")
    assert "too short" in again.one_line_error("vkstream demo")


def test_the_demo_publishes_on_its_port_or_says_it_is_taken(caplog) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert demo_endpoint(port) == "tcp://127.0.0.1:*"
    assert f"port {port} is taken" in caplog.text
    assert demo_endpoint(port) == f"tcp://127.0.0.1:{port}"
    assert demo_endpoint(0) == "tcp://127.0.0.1:*"


def test_the_model_leaves_one_core_to_the_sinks_and_replays() -> None:
    assert [model_threads(cores) for cores in (1, 2, 16)] == [1, 1, 15]


def demo_options(tmp_path: Path, **changes: object) -> DemoOptions:
    """The shipped demo's options over ``tmp_path``, with ``changes``."""
    return DemoOptions(
        data=tmp_path,
        out=tmp_path,
        checkpoint=REPO / "checkpoints" / "synth_small.pt",
        config=REPO / "configs" / "pipeline" / "fanout.yaml",
        **changes,
    )


def test_the_demo_runs_the_config_s_batching_unless_told(tmp_path: Path) -> None:
    two = ["000000", "000001"]
    assert demo_config(demo_options(tmp_path, threads=2), two).batching.max_batch == "auto"
    # a one-thread model on a small CPU batches every stream: a fifth less CPU a frame
    assert demo_config(demo_options(tmp_path, threads=1, streams=2), two).batching.max_batch == 2
    told = demo_options(tmp_path, threads=1, streams=2, max_batch=1)
    assert demo_config(told, two).batching.max_batch == 1


def test_a_one_thread_model_on_a_cpu_runs_its_backbone_beside_its_heads(tmp_path: Path) -> None:
    def actors(threads: int, gpus: int = 0) -> list[str]:
        config = demo_config(demo_options(tmp_path, threads=threads), ["000000"])
        return [p.name for p in plan_actors(config, gpus).actors]

    # the depth head's actor also runs beside the demo's evaluator and recorder: it gets the least
    assert actors(1)[:2] == ["backbone+kernel_tracker", "depth_head"]
    assert actors(2)[0] == "backbone+kernel_tracker+depth_head"  # several threads: one actor
    assert actors(1, gpus=1)[0] == "backbone+kernel_tracker+depth_head"  # on a GPU: one actor
