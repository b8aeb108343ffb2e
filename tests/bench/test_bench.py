"""The benchmark's frames, its bare and naive modes and its report, with a tiny model on tiny frames."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import zmq

from vkstream.bench import (
    BenchFrames,
    BenchResult,
    cpu_extra,
    ensure_bench_data,
    format_table,
    load_bench_frames,
    run_bare,
    run_naive,
    write_json,
)
from vkstream.client import StreamResult, decode_message
from vkstream.data import DatasetError, open_dataset
from vkstream.models import OnlineVideoKNet, VideoKNet, preset
from vkstream.train.pairs import image_tensor
from vkstream.wire import panoptic_map

WIDTH, HEIGHT = 160, 48
SEQUENCES, FRAMES = 2, 3
TINY = preset("tiny")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Tiny tensors gain nothing from more threads (the shared fixture of tests/conftest.py)."""


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench") / "data"
    assert ensure_bench_data(root, size=(WIDTH, HEIGHT), sequences=SEQUENCES, frames=FRAMES) == root
    return root


@pytest.fixture(scope="module")
def online() -> OnlineVideoKNet:
    torch.manual_seed(0)
    return OnlineVideoKNet(VideoKNet(TINY))


def test_ensure_bench_data_renders_a_set_once(bench_root: Path) -> None:
    dataset = open_dataset(bench_root)
    assert len(dataset.sequences) == SEQUENCES
    assert all(dataset.num_frames(s) == FRAMES for s in dataset.sequences)
    files = sorted(p for p in bench_root.rglob("*") if p.is_file())
    stamps = [p.stat().st_mtime_ns for p in files]
    assert ensure_bench_data(bench_root, size=(64, 32), sequences=1, frames=1) == bench_root
    assert sorted(p for p in bench_root.rglob("*") if p.is_file()) == files
    assert [p.stat().st_mtime_ns for p in files] == stamps


def test_frames_wrap_around_sequences_and_frames(bench_root: Path) -> None:
    frames = load_bench_frames(bench_root, streams=3, frames=5)
    assert (frames.streams, frames.frames, frames.size) == (3, 5, (HEIGHT, WIDTH))
    first, second = open_dataset(bench_root).sequences
    assert frames.sequences == (first, second, first)
    assert frames.stream_ids == ("stream0", "stream1", "stream2")
    assert frames.paths[2] == frames.paths[0] and frames.paths[0] != frames.paths[1]
    assert frames.paths[0][3] == frames.paths[0][0] and frames.paths[0][4] == frames.paths[0][1]
    assert len(set(frames.paths[1][:FRAMES])) == FRAMES
    for s in range(3):
        for t in range(5):
            image, path = frames.images[s][t], frames.paths[s][t]
            assert image.dtype == np.uint8 and image.shape == (HEIGHT, WIDTH, 3)
            np.testing.assert_array_equal(image, cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
    assert frames.step_images(4).shape == (3, HEIGHT, WIDTH, 3)
    assert all(k is not None and k.cx == pytest.approx(WIDTH / 2) for k in frames.intrinsics)
    assert frames.measured(2) == 3


def test_frames_fail_clearly(tmp_path: Path, bench_root: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match=r"dataset folder not found.*vkstream synth") as err:
        load_bench_frames(missing, 1, 1)
    assert err.value.path == str(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"no known dataset layout.*ensure_bench_data"):
        load_bench_frames(empty, 1, 1)
    with pytest.raises(ValueError, match="at least 1"):
        load_bench_frames(bench_root, 0, 3)
    frames = load_bench_frames(bench_root, 1, 3)
    with pytest.raises(ValueError, match=r"warm-up must be 0\.\.2"):
        frames.measured(3)


def _check_result(result: BenchResult, mode: str, frames: BenchFrames, warmup: int) -> None:
    assert (result.mode, result.streams) == (mode, frames.streams)
    assert result.frames == frames.streams * (frames.frames - warmup)
    assert result.fps > 0
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.extra["cpu_ms"] > 0  # the loop's process, per frame


@pytest.mark.parametrize("streams", [1, 2])
def test_bare_mode(online: OnlineVideoKNet, bench_root: Path, streams: int) -> None:
    frames = load_bench_frames(bench_root, streams, 4)
    _check_result(run_bare(online, frames, warmup=1), "bare", frames, 1)


def _receive_all(sub: zmq.Socket, count: int) -> list[StreamResult]:
    received = []
    while len(received) < count and sub.poll(5000):
        received.append(decode_message(sub.recv_multipart()))
    return received


@pytest.mark.parametrize("streams", [1, 2])
def test_naive_mode_publishes_every_frame(online: OnlineVideoKNet, bench_root: Path, streams: int) -> None:
    frames = load_bench_frames(bench_root, streams, 4)
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.LINGER, 0)
    try:
        result = run_naive(online, frames, "tcp://127.0.0.1:*", warmup=1, subscribers=1, on_bind=sub.connect)
        messages = _receive_all(sub, streams * frames.frames)
    finally:
        sub.close()
        context.term()
    _check_result(result, "naive", frames, 1)
    assert len(messages) == streams * frames.frames
    for s, stream in enumerate(frames.stream_ids):
        mine = [m for m in messages if m.stream == stream]
        assert [m.seq for m in mine] == list(range(frames.frames))
        assert all(m.size == (HEIGHT, WIDTH) and m.segments for m in mine)
        assert {"decode", "model", "publish", "total"} <= set(mine[0].latency_ms)
        assert mine[0].state_reset and not mine[1].state_reset
        # the first frame is exactly what the model makes of the stored image
        results, _ = online.step(image_tensor(frames.images[s][0])[None], [None])
        expected = panoptic_map(results[0].semantic.numpy(), results[0].track.numpy())
        np.testing.assert_array_equal(mine[0].panoptic, expected)
        # and its segments are the model's own table, in wire form
        keys = {(s.class_id << 16) | s.track_id for s in results[0].segments}
        assert [seg.id for seg in mine[0].segments] == sorted(keys)
        assert all(seg.xyz is not None for seg in mine[0].segments if seg.depth_m > 0)


def test_naive_mode_binds_loopback_only(online: OnlineVideoKNet, bench_root: Path) -> None:
    frames = load_bench_frames(bench_root, 1, 2)
    with pytest.raises(ValueError, match="other machines"):
        run_naive(online, frames, "tcp://0.0.0.0:*", warmup=1)


def test_result_from_latencies() -> None:
    result = BenchResult.from_latencies("bare", 2, [0.010] * 99 + [0.110], wall_s=2.0)
    assert result.frames == 100 and result.fps == pytest.approx(50.0)
    assert result.p50_ms == pytest.approx(10.0) and result.p99_ms == pytest.approx(11.0)
    with pytest.raises(ValueError, match="reuse the keys fps"):
        BenchResult("naive", 1, 1.0, 1.0, 1.0, 1, extra={"fps": 2})
    with pytest.raises(ValueError, match="at least one measured frame"):
        BenchResult.from_latencies("bare", 1, [], wall_s=1.0)


def test_table_and_json(tmp_path: Path) -> None:
    results = [
        BenchResult("naive", 2, 5.0, 40.0, 60.0, 20),
        BenchResult("bare", 1, 8.0, 12.5, 14.0, 10),
        BenchResult("bare", 2, 10.0, 20.0, 22.0, 20),
        BenchResult("pipeline", 2, 15.0, 30.0, 45.0, 20, extra={"dropped": 3}),
        BenchResult("naive", 1, 6.0, 16.0, 17.0, 10),
    ]
    table = format_table(results).splitlines()
    assert table[0] == "| mode | streams | fps | p50 ms | p99 ms | vs bare | dropped |"
    rows = [line.strip("| ").split(" | ") for line in table[2:]]
    assert [(r[0], r[1]) for r in rows] == [
        ("naive", "1"),
        ("naive", "2"),
        ("bare", "1"),
        ("bare", "2"),
        ("pipeline", "2"),
    ]
    assert [r[5] for r in rows] == ["0.75x", "0.50x", "1.00x", "1.00x", "1.50x"]
    assert rows[-1][-1] == "3"
    assert format_table([BenchResult("naive", 4, 1.0, 1.0, 1.0, 4)]).splitlines()[2].endswith("| - |")

    path = write_json(results, tmp_path / "out" / "bench.json", size="160x48")
    document = json.loads(path.read_text())
    assert {"cpu", "cores", "gpu"} <= set(document["machine"]) and document["size"] == "160x48"
    assert document["machine"]["gpu"] == (torch.cuda.get_device_name() if torch.cuda.is_available() else None)
    core = {"mode", "streams", "fps", "p50_ms", "p99_ms", "frames"}
    assert all(set(r) == core for r in document["results"][:4])
    assert document["results"][4] == {**results[3].to_dict(), "dropped": 3}
    assert set(results[0].to_dict()) == core
    split = BenchResult("pipeline", 1, 9.0, 1.0, 1.0, 9, extra=cpu_extra({"publisher": 9.96, "model": 150.0}))
    assert split.extra == {"cpu_ms": 160.0, "cpu_ms_by_process": {"model": 150.0, "publisher": 10.0}}
    assert format_table([split]).splitlines()[2].endswith("| 160.0 | model 150.0, publisher 10.0 |")
    custom = json.loads(write_json(results[:1], tmp_path / "b.json", machine={"cpu": "x"}).read_text())
    assert custom["machine"] == {"cpu": "x"}
