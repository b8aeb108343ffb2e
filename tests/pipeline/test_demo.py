"""``vkstream demo``, the main job, on a few frames: everything it promises is there at the end."""

from __future__ import annotations

import socket
from pathlib import Path

import cv2
import pytest
import torch

from tests.conftest import REPO
from tests.record.mcap_read import read_mcap
from vkstream.launch.demo import DemoOptions, demo_config, demo_endpoint, model_threads
from vkstream.nodes.placement import MODEL_NODES, split_model
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
    assert demo_config(demo_options(tmp_path), ["000000", "000001"]).batching.max_batch == "auto"
    pairs = demo_options(tmp_path, max_batch=2)
    assert demo_config(pairs, ["000000", "000001"]).batching.max_batch == 2


def test_a_one_thread_model_on_a_cpu_runs_its_backbone_beside_its_heads(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("the demo's model runs on the GPU there, in one actor")

    def actors(threads: int) -> dict[str, str | None]:
        config = demo_config(demo_options(tmp_path, threads=threads), ["000000"])
        return {n.name: n.actor for n in config.nodes if n.name in MODEL_NODES}

    # the depth head's actor also runs beside the demo's evaluator and recorder: it gets the least
    first = "backbone+kernel_tracker"
    assert actors(1) == {"backbone": first, "kernel_tracker": first, "depth_head": "depth_head"}
    assert actors(2) == dict.fromkeys(MODEL_NODES)  # several threads: one fused actor


def test_the_model_splits_where_asked_and_keeps_explicit_actors() -> None:
    def nodes() -> list[dict[str, object]]:
        return [{"name": t, "type": t} for t in MODEL_NODES] + [{"name": "pub", "type": "publisher"}]

    even = nodes()
    split_model(even)
    assert [n.get("actor") for n in even] == [
        "backbone",
        "kernel_tracker+depth_head",
        "kernel_tracker+depth_head",
        None,
    ]
    assert all(n["resources"] == {"num_cpus": 0.5} for n in even[:3]) and "resources" not in even[3]
    pinned = nodes()
    pinned[2]["actor"] = "gpu1"
    split_model(pinned, first=2)
    assert [n.get("actor") for n in pinned] == ["backbone+kernel_tracker"] * 2 + ["gpu1", None]
    with pytest.raises(ValueError, match="the first actor takes 1 to 2 of the model's nodes, not 3"):
        split_model(nodes(), first=3)
