"""Mode "naive": one thread, one frame at a time, as research repositories run inference.

Per frame: read and decode the PNG, step the model with batch 1, copy the result to the host, build
the wire message as the publisher does and send it on a PUB socket. Nothing overlaps, so the figures
show what a straightforward deployment of the reference code would achieve on this machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence

import cv2
import numpy as np
import zmq

from vkstream.bench.frames import BenchFrames
from vkstream.bench.report import BenchResult
from vkstream.client.arrays import Codec
from vkstream.client.message import TRACK_BITS, StreamResult, encode_message
from vkstream.data import CLASS_NAMES, DatasetError, Intrinsics
from vkstream.models import FrameResult, OnlineVideoKNet, StreamState
from vkstream.nodes.publisher import FLOAT16_MAX, check_endpoint, panoptic_from_labels
from vkstream.nodes.segments import derive_segments
from vkstream.train.pairs import image_tensor

MODE = "naive"
DEFAULT_BENCH_ENDPOINT = "tcp://127.0.0.1:*"
"""A free loopback port: the benchmark never collides with a running publisher."""


def wire_scores(result: FrameResult) -> dict[int, float]:
    """Confidence per wire segment id (class << 16 | track); untracked things of a class share one id."""
    scores: dict[int, float] = {}
    for seg in result.segments:
        key = seg.class_id << TRACK_BITS | seg.track_id
        scores[key] = max(seg.score, scores.get(key, 0.0))
    return scores


def wire_message(
    stream: str,
    seq: int,
    stamp_ns: int,
    result: FrameResult,
    *,
    thing_ids: Collection[int],
    intrinsics: Intrinsics | None = None,
    latency_ms: Mapping[str, float] | None = None,
    classes: Sequence[str] = CLASS_NAMES,
    codec: Codec = "zstd",
    level: int | None = None,
) -> list[bytes]:
    """``[topic, payload]`` of a host-side model result, built with the publisher's own steps.

    panoptic_from_labels, float16 depth, derive_segments, then encode_message; ``publish`` latency
    runs from the call to the message being encoded, ``total`` from ``stamp_ns``.
    """
    ready_ns = time.time_ns()
    panoptic = panoptic_from_labels(result.semantic.numpy(), result.track.numpy())
    depth = np.clip(result.depth.numpy(), 0.0, FLOAT16_MAX).astype(np.float16)
    segments = derive_segments(panoptic, depth, thing_ids, wire_scores(result), intrinsics)
    publish_ns = time.time_ns()
    latency = {
        **(latency_ms or {}),
        "publish": (publish_ns - ready_ns) / 1e6,
        "total": (publish_ns - stamp_ns) / 1e6,
    }
    message = StreamResult(
        stream=stream,
        seq=seq,
        stamp_ns=stamp_ns,
        publish_ns=publish_ns,
        classes=tuple(classes),
        panoptic=panoptic,
        depth=depth,
        segments=segments,
        latency_ms=latency,
        dropped=0,
        state_reset=seq == 0,
    )
    return encode_message(message, codec, level)


def _wait_for_subscribers(socket: zmq.Socket, count: int, timeout_s: float) -> None:
    """Read XPUB subscription events until ``count`` subscriptions are active."""
    active = 0
    deadline = time.monotonic() + timeout_s
    while active < count:
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0 or not socket.poll(left_ms, zmq.POLLIN):
            raise TimeoutError(f"{active} of {count} subscribers connected within {timeout_s:g} s")
        event = socket.recv()
        if event:
            active += 1 if event[0] == 1 else -1


def run_naive(
    online: OnlineVideoKNet,
    frames: BenchFrames,
    endpoint: str = DEFAULT_BENCH_ENDPOINT,
    warmup: int = 3,
    *,
    codec: Codec = "zstd",
    level: int | None = None,
    subscribers: int = 0,
    on_bind: Callable[[str], None] | None = None,
    timeout_s: float = 10.0,
) -> BenchResult:
    """Round-robin over the streams, frame t of every stream before frame t+1; batch 1 throughout.

    A frame's latency runs from starting to read its PNG to ``send`` returning. ``on_bind`` gets the
    bound endpoint (with the chosen port) before anything is sent; with ``subscribers`` > 0 the run
    waits (up to ``timeout_s``) for that many subscriptions, so no subscriber misses the first frames.
    The first ``warmup`` frames of every stream are published but not measured.
    """
    frames.measured(warmup)
    check_endpoint(endpoint, allow_remote=False)
    context = zmq.Context()
    socket = context.socket(zmq.XPUB)  # a PUB socket that also reports its subscriptions
    try:
        socket.setsockopt(zmq.LINGER, 2000)  # let queued messages reach subscribers on close
        try:
            socket.bind(endpoint)
        except zmq.ZMQError as exc:
            raise ValueError(f"cannot bind {endpoint}: {exc.strerror}") from None
        if on_bind is not None:
            on_bind(socket.getsockopt_string(zmq.LAST_ENDPOINT))
        _wait_for_subscribers(socket, subscribers, timeout_s)
        latencies, wall = _publish_loop(online, frames, socket, warmup, codec, level)
    finally:
        socket.close()
        context.term()
    return BenchResult.from_latencies(MODE, frames.streams, latencies, wall)


def _publish_loop(
    online: OnlineVideoKNet,
    frames: BenchFrames,
    socket: zmq.Socket,
    warmup: int,
    codec: Codec,
    level: int | None,
) -> tuple[list[float], float]:
    device = online.device
    thing_ids = frozenset(online.cfg.thing_classes)
    states: list[StreamState | None] = [None] * frames.streams
    latencies: list[float] = []
    started = 0.0
    for t in range(frames.frames):
        if t == warmup:
            started = time.perf_counter()
        for s, stream in enumerate(frames.stream_ids):
            stamp_ns = time.time_ns()
            begin = time.perf_counter()
            path = frames.paths[s][t]
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise DatasetError(path, "cannot be read as an image")
            image = image_tensor(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).unsqueeze(0).to(device)
            decoded = time.perf_counter()
            results, new_states = online.step(image, [states[s]])
            states[s] = new_states[0]
            result = results[0].cpu()
            stepped = time.perf_counter()
            message = wire_message(
                stream,
                t,
                stamp_ns,
                result,
                thing_ids=thing_ids,
                intrinsics=frames.intrinsics[s],
                latency_ms={"decode": (decoded - begin) * 1e3, "model": (stepped - decoded) * 1e3},
                codec=codec,
                level=level,
            )
            socket.send_multipart(message, copy=False)
            if t >= warmup:
                latencies.append(time.perf_counter() - begin)
    return latencies, time.perf_counter() - started
