"""Mode "naive": one thread, one frame at a time, as research repositories run inference.

Per frame: read and decode the PNG, step the model with batch 1, copy the result to the host, build
the wire message as the publisher does and send it on a PUB socket. Nothing overlaps, so the figures
show what a straightforward deployment of the reference code would achieve on this machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import cv2
import zmq

from vkstream.bench.frames import BenchFrames
from vkstream.bench.report import BenchResult, cpu_extra
from vkstream.client.arrays import Codec
from vkstream.data import DatasetError, Intrinsics, LabelSpace
from vkstream.models import FrameResult, OnlineVideoKNet, StreamState
from vkstream.nodes.model_nodes import host_results
from vkstream.train.pairs import image_tensor
from vkstream.wire import FrameOutput, check_endpoint, checked_output, encode_message, stream_result

MODE = "naive"
DEFAULT_BENCH_ENDPOINT = "tcp://127.0.0.1:*"
"""A free loopback port: the benchmark never collides with a running publisher."""


def wire_message(
    stream: str,
    seq: int,
    stamp_ns: int,
    result: FrameResult,
    labels: LabelSpace,
    *,
    intrinsics: Intrinsics | None = None,
    latency_ms: Mapping[str, float] | None = None,
    codec: Codec = "zstd",
    level: int | None = None,
) -> list[bytes]:
    """``[topic, payload]`` of a model result, built by the very steps the pipeline's nodes take.

    The depth head's host transfer, :func:`vkstream.wire.checked_output`, :func:`vkstream.wire.stream_result`
    (wrapped track ids, float16 depth, the model's segment table), then encode_message; ``publish``
    latency runs from the call to the message being built, ``total`` from ``stamp_ns``.
    """
    ready_ns = time.time_ns()
    ((panoptic, depth),) = host_results([result], labels)
    output = FrameOutput(
        stream, seq, stamp_ns, panoptic, depth, intrinsics, dict(latency_ms or {}), 0, seq == 0
    )
    return encode_message(stream_result(checked_output(output), time.time_ns(), ready_ns), codec, level)


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
    labels: LabelSpace | None = None,
) -> BenchResult:
    """Round-robin over the streams, frame t of every stream before frame t+1; batch 1 throughout.

    ``labels``: the checkpoint's label space (default: :meth:`LabelSpace.for_classes` of the model).

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
        labels = labels or LabelSpace.for_classes(online.cfg.num_classes, online.cfg.thing_classes)
        latencies, wall, cpu_s = _publish_loop(online, labels, frames, socket, warmup, codec, level)
    finally:
        socket.close()
        context.term()
    extra = cpu_extra({"loop": cpu_s * 1000 / len(latencies)})
    return BenchResult.from_latencies(MODE, frames.streams, latencies, wall, extra=extra)


def _publish_loop(
    online: OnlineVideoKNet,
    labels: LabelSpace,
    frames: BenchFrames,
    socket: zmq.Socket,
    warmup: int,
    codec: Codec,
    level: int | None,
) -> tuple[list[float], float, float]:
    """Per-frame latencies, and the wall and CPU seconds of the measured frames."""
    device = online.device
    states: list[StreamState | None] = [None] * frames.streams
    latencies: list[float] = []
    started = cpu_started = 0.0
    for t in range(frames.frames):
        if t == warmup:
            started, cpu_started = time.perf_counter(), time.process_time()
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
            stepped = time.perf_counter()
            message = wire_message(
                stream,
                t,
                stamp_ns,
                results[0],
                labels,
                intrinsics=frames.intrinsics[s],
                latency_ms={"decode": (decoded - begin) * 1e3, "model": (stepped - decoded) * 1e3},
                codec=codec,
                level=level,
            )
            socket.send_multipart(message, copy=False)
            if t >= warmup:
                latencies.append(time.perf_counter() - begin)
    return latencies, time.perf_counter() - started, time.process_time() - cpu_started
