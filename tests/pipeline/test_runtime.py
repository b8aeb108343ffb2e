"""The pipeline on a real Ray with real sources, the shipped model and a subscriber on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import ray
import torch

from tests.pipeline.conftest import (
    CHECKPOINT,
    evaluator_node,
    kitti_stream,
    make_config,
    model_nodes,
    publisher_node,
)
from vkstream.data import open_dataset
from vkstream.models import OnlineVideoKNet
from vkstream.pipeline.runtime import PipelineError
from vkstream.train.checkpoint import load_model
from vkstream.train.pairs import image_tensor
from vkstream.viz.telemetry import format_stats
from vkstream.wire import TRACK_BITS


def write_video(path: Path, frames: int, size: tuple[int, int] = (96, 64)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, size)
    rng = np.random.default_rng(0)
    for i in range(frames):
        image = np.full((size[1], size[0], 3), 20 * i % 255, np.uint8)
        image[: size[1] // 2] = rng.integers(0, 255, (size[1] // 2, size[0], 3), dtype=np.uint8)
        writer.write(image)
    writer.release()
    return path


def offline_panoptic(root: Path, sequence: str) -> list[np.ndarray]:
    """The same model stepped over the sequence alone, in this process."""
    model, _, _ = load_model(CHECKPOINT)
    online = OnlineVideoKNet(model)
    dataset = open_dataset(root)
    state = None
    out = []
    for frame in dataset.frames(sequence):
        results, states = online.step(image_tensor(frame.image).unsqueeze(0), [state])
        state = states[0]
        r = results[0]
        out.append((r.semantic.to(torch.int64).numpy() << TRACK_BITS) | r.track.numpy())
    return out


def test_three_sources_at_once_keep_their_order_and_never_mix(
    running, kitti_datasets, make_mjpeg_server, tmp_path: Path
) -> None:
    root = kitti_datasets["semkitti-dvps"]
    video = write_video(tmp_path / "clip.avi", frames=6)
    camera = make_mjpeg_server(size=(128, 48), fps=15)
    config = make_config(
        "three",
        [*model_nodes(), publisher_node(), evaluator_node()],
        streams=[
            kitti_stream("replay", root, "000000", speed=0, ground_truth=True),
            kitti_stream("replay2", root, "000001", speed=0),
            {"id": "video", "source": {"kind": "video", "path": str(video), "speed": 0}},
            {"id": "ipcam", "source": {"kind": "url", "url": camera.url}},
        ],
        batching={"max_batch": 4, "max_wait_ms": 20},
    )
    pipeline, collector = running(config)
    assert pipeline.wait(timeout=10) is False  # the IP camera never ends
    collector.wait_for(
        lambda: (
            collector.count("replay") == collector.count("replay2") == 4 and collector.count("video") == 6
        ),
        60,
        pipeline,
    )
    collector.wait_for(lambda: collector.count("ipcam") >= 3)
    stats = pipeline.stats()
    for stream, results in collector.results.items():
        seqs = [r.seq for r in results]
        assert seqs == sorted(set(seqs)), (stream, seqs)
    # Replays at speed 0 wait for the pipeline instead of dropping: every frame, in order.
    assert [r.seq for r in collector.results["video"]] == list(range(6))
    assert [r.seq for r in collector.results["replay"]] == list(range(4))
    # ... and every sink's acknowledgement reaches the replay, which never waits out the stall timeout.
    assert all(stats["streams"][s]["source"]["stalls"] == 0 for s in ("replay", "replay2", "video"))
    assert all(r.panoptic.shape == (64, 96) for r in collector.results["video"])
    assert all(r.panoptic.shape == (48, 128) for r in collector.results["ipcam"])
    # The two replays (one frame size) may share batches; each one's output is what the model gives it alone.
    for stream, sequence in (("replay", "000000"), ("replay2", "000001")):
        expected = offline_panoptic(root, sequence)
        for got, want in zip(collector.results[stream], expected, strict=True):
            assert (got.panoptic == want).mean() > 0.999
    evaluation = stats["reports"]["evaluator"]["evaluation"]
    assert evaluation["frames"] == 4 and set(evaluation["sequences"]) == {"replay#1"}
    assert stats["streams"]["ipcam"]["source"]["state"] == "streaming"
    assert stats["streams"]["replay"]["latency_ms"]["e2e"]["count"] == 4


def test_streams_attach_and_detach_while_running(running, kitti_datasets) -> None:
    root = kitti_datasets["kitti-step"]
    config = make_config("attach", streams=[kitti_stream("a", root, "0000", speed=2, loop=True)])
    pipeline, collector = running(config)
    collector.wait_for(lambda: collector.count("a") >= 2)
    pipeline.attach(kitti_stream("b", root, "0001", speed=2, loop=True))
    with pytest.raises(PipelineError, match="already attached"):
        pipeline.attach(kitti_stream("b", root, "0001"))
    collector.wait_for(lambda: collector.count("b") >= 3)
    assert pipeline.stats()["reports"]["kernel_tracker"]["streams"] == 2
    final = pipeline.detach("b")
    assert final["source"]["state"] == "stopped"
    assert pipeline.stats()["reports"]["kernel_tracker"]["streams"] == 1
    after = collector.count("a")
    collector.wait_for(lambda: collector.count("a") >= after + 3)  # a goes on
    b_count = collector.count("b")
    time.sleep(0.5)
    assert collector.count("b") == b_count
    assert pipeline.stream_ids() == ["a"]
    with pytest.raises(PipelineError, match="no stream 'b'"):
        pipeline.detach("b")
    # A recording that cannot be opened fails for good after a few attempts, naming the problem.
    pipeline.attach({**kitti_stream("typo", root, "9999"), "retry": {"initial_s": 0.05}})
    deadline = time.monotonic() + 30
    while (status := pipeline.sources()["typo"])["state"] != "failed":
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    assert "no sequence '9999'" in status["last_error"]
    assert "typo: cannot open" in format_stats(pipeline.stats())


def test_a_node_actor_builds_and_runs_its_nodes_on_one_thread(running, kitti_datasets) -> None:
    """Loading a model starts OpenMP's threads on the loading thread; computing on another would add a
    second team, and libgomp, counting more threads than cores, stops spinning between regions."""
    node = {"name": "model", "type": "tests.pipeline.slow_node:ThreadNode", "options": {"delay_s": 0.0}}
    config = make_config(
        "one-thread",
        nodes=[node, publisher_node()],
        streams=[kitti_stream("replay", kitti_datasets["kitti-step"], "0000", speed=0, loop=True)],
    )
    pipeline, collector = running(config)
    collector.wait_for(lambda: collector.count("replay") >= 4, 60, pipeline)
    report = pipeline.stats()["reports"]["model"]
    assert report["runs_on"] == [report["built_on"]]


def test_overload_drops_the_oldest_frames_and_latency_stays_bounded(running, make_mjpeg_server) -> None:
    camera = make_mjpeg_server(size=(64, 48), fps=30)
    slow = {"name": "slow", "type": "tests.pipeline.slow_node:SlowNode", "options": {"delay_s": 0.15}}
    config = make_config(
        "overload",
        nodes=[slow, publisher_node()],
        streams=[{"id": "cam", "source": {"kind": "url", "url": camera.url}}],
        telemetry={"skip_first": 3},
    )
    pipeline, collector = running(config)
    collector.wait_for(lambda: collector.count("cam") >= 15, timeout=60)
    stats = pipeline.stats()
    stream = stats["streams"]["cam"]
    assert stream["dropped"].get("slow", 0) > 10  # 30 fps in, under 7 fps out
    assert all(a["pending"] <= 1 for a in stats["actors"])
    # A frame waits for at most the batch in progress and itself: latency does not grow with time.
    assert stream["latency_ms"]["e2e"]["p99"] < 1500
    results = collector.results["cam"]
    assert results[-1].dropped > results[3].dropped > 0
    assert results[-1].seq - results[0].seq > 2 * len(results)


def test_a_camera_that_disconnects_is_reopened_while_other_streams_go_on(
    running, make_mjpeg_server, kitti_datasets
) -> None:
    camera = make_mjpeg_server(size=(64, 48), fps=10)
    config = make_config(
        "reconnect",
        streams=[
            {
                "id": "cam",
                "source": {"kind": "url", "url": camera.url, "read_timeout_s": 1.0, "open_timeout_s": 1.0},
                "retry": {"initial_s": 0.2, "max_s": 0.5},
            },
            kitti_stream("replay", kitti_datasets["kitti-step"], "0000", speed=2, loop=True),
        ],
    )
    pipeline, collector = running(config)
    collector.wait_for(lambda: collector.count("cam") >= 3)
    camera.stop()
    deadline = time.monotonic() + 20
    while pipeline.sources()["cam"]["state"] == "streaming":
        assert time.monotonic() < deadline, "the disconnect was not noticed"
        time.sleep(0.1)
    replay_before = collector.count("replay")
    collector.wait_for(lambda: collector.count("replay") >= replay_before + 3)  # unaffected
    assert pipeline.sources()["cam"]["last_error"]
    seen = collector.count("cam")
    camera.start()
    collector.wait_for(lambda: collector.count("cam") >= seen + 3, timeout=30)
    status = pipeline.sources()["cam"]
    assert status["state"] == "streaming" and status["reconnects"] >= 1
    back = collector.results["cam"][seen]
    assert back.state_reset  # the tracks start afresh after the gap
    assert back.seq > collector.results["cam"][seen - 1].seq


def test_a_killed_model_actor_is_restarted_and_its_streams_resume(running, make_mjpeg_server) -> None:
    camera = make_mjpeg_server(size=(64, 48), fps=10)
    config = make_config("restart", streams=[{"id": "cam", "source": {"kind": "url", "url": camera.url}}])
    _, collector = running(config)
    collector.wait_for(lambda: collector.count("cam") >= 3)
    actor = ray.get_actor("restart-backbone+kernel_tracker+depth_head")
    pid = ray.get(actor.pid.remote())
    killed_ns = time.time_ns()
    ray.kill(actor, no_restart=False)

    def after_kill() -> list:
        return [r for r in list(collector.results["cam"]) if r.stamp_ns > killed_ns]

    collector.wait_for(lambda: len(after_kill()) >= 4, timeout=90)
    assert ray.get(actor.pid.remote()) != pid
    resumed = after_kill()
    assert resumed[0].state_reset  # the new process has no state: track ids start afresh
    assert not any(r.state_reset for r in resumed[1:])  # and then tracking goes on
    seqs = [r.seq for r in collector.results["cam"]]
    assert seqs == sorted(set(seqs))


def test_a_node_that_cannot_start_is_named_in_one_line(ray_session, tmp_path: Path) -> None:
    from vkstream.pipeline.runtime import Pipeline

    config = make_config("broken")
    broken = config.model_copy(
        update={"model": config.model.model_copy(update={"checkpoint": tmp_path / "missing.pt"})}
    )
    with pytest.raises(PipelineError, match=r"node 'backbone' \(backbone\) failed to start: .*missing\.pt"):
        Pipeline(broken).start()
    assert "broken-publisher" not in {a["name"] for a in ray.util.list_named_actors(all_namespaces=True)}
