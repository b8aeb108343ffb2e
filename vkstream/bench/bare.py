"""Mode "bare": the model alone, ``step`` over preloaded frames; the ceiling the other modes approach."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from vkstream.bench.frames import BenchFrames
from vkstream.bench.report import BenchResult, cpu_extra
from vkstream.models import OnlineVideoKNet, StreamState
from vkstream.train.pairs import image_tensor

MODE = "bare"


def synchronizer(device: torch.device) -> Callable[[], None]:
    """A callable that waits for the device's queued work: without it CUDA timings measure launches."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def run_bare(online: OnlineVideoKNet, frames: BenchFrames, warmup: int = 3) -> BenchResult:
    """All streams in one batch per time step, images already float tensors on the model's device.

    Every frame of a step gets that step's wall time as its latency. The first ``warmup`` steps
    (allocator, kernel selection, first-frame state) are run but not measured.
    """
    frames.measured(warmup)
    device = online.device
    batches = [
        torch.stack([image_tensor(image) for image in frames.step_images(t)]).to(device)
        for t in range(frames.frames)
    ]
    sync = synchronizer(device)
    states: list[StreamState | None] = [None] * frames.streams
    latencies: list[float] = []
    started = cpu_started = 0.0
    sync()
    for t, images in enumerate(batches):
        if t == warmup:
            started, cpu_started = time.perf_counter(), time.process_time()
        begin = time.perf_counter()
        _, states = online.step(images, list(states))
        sync()
        if t >= warmup:
            latencies.extend([time.perf_counter() - begin] * frames.streams)
    wall = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu_started) * 1000 / len(latencies)
    extra = cpu_extra({"loop": cpu_ms})
    return BenchResult.from_latencies(MODE, frames.streams, latencies, wall, extra=extra)
