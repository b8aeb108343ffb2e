"""Mode (c): the Ray pipeline, fed by replays of the benchmark's frames as fast as it takes them.

Each stream is a KITTI replay at speed 0 with its frames preloaded: flow-controlled (no drops, a
bounded number of frames in flight) and without disk or decoding cost, like the bare loop. A
subscriber in this process receives the results; throughput counts frames received after the
warm-up, latency is each message's capture-to-publication time (queueing included).
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from vkstream.bench.frames import BenchFrames
from vkstream.bench.report import BenchResult, cpu_extra
from vkstream.client import Subscriber
from vkstream.models.options import StageOptions
from vkstream.pipeline.config import PipelineConfig
from vkstream.pipeline.runtime import Pipeline

MODE = "pipeline"
EAGER_FP32 = StageOptions()
"""Stages as the bare loop runs them by default: fp32, not compiled, NCHW."""
MODEL_NODES = ("backbone", "kernel_tracker", "depth_head")
NATIVE_RATE_HZ = 10.0
"""The replays' native rate (KITTI's camera): speed 1 plays a stream at this rate."""


def bench_config(
    checkpoint: Path,
    root: Path,
    frames: BenchFrames,
    *,
    device: str,
    threads: int | None,
    max_batch: int | str,
    stages: StageOptions = EAGER_FP32,
    rate_hz: float = 0.0,
    model_actors: int = 1,
) -> PipelineConfig:
    """The three model stages and the publisher (no evaluator), replays preloaded: flow-controlled
    (``rate_hz`` 0) or at ``rate_hz`` per stream, as cameras, the oldest frames dropped when late.
    ``model_actors`` 2, on a CPU: the backbone in one actor, the kernel tracker and the depth head in
    another (``model.split_after: 1``), ``threads`` each."""
    publisher = {"endpoint": "tcp://127.0.0.1:*", "queue_size": 64}
    speed = rate_hz / NATIVE_RATE_HZ if rate_hz > 0 else 0
    source = {"kind": "kitti", "root": str(root), "speed": speed, "loop": True, "preload": True}
    height, width = frames.size
    model = {"checkpoint": str(checkpoint), "device": device, "threads": threads, **stages.model_dump()}
    if stages.static_shapes:
        model["warm_up"] = [f"{width}x{height}"]
    if model_actors not in (1, 2):
        raise ValueError(f"the model runs in 1 or 2 actors, not {model_actors}")
    if model_actors == 2:
        model["split_after"] = 1  # even halves: a publisher is all that runs beside them
    return PipelineConfig.model_validate(
        {
            "name": f"bench{frames.streams}",
            "model": model,
            "nodes": [
                *({"name": n, "type": n} for n in MODEL_NODES),
                {
                    "name": "publisher",
                    "type": "publisher",
                    "options": publisher,
                    "resources": {"num_cpus": 0},
                },
            ],
            "streams": [
                {"id": stream_id, "source": {**source, "sequence": sequence}}
                for stream_id, sequence in zip(frames.stream_ids, frames.sequences, strict=True)
            ],
            "batching": {"max_batch": max_batch, "max_wait_ms": 5},
            # a frame in each model actor and one on its way out: two actors idle with two in flight
            "backpressure": {"max_in_flight": 1 + model_actors},
            "control": {"enabled": False},
        }
    )


def cpu_seconds(figures: dict[str, Any]) -> dict[str, float]:
    """CPU seconds so far, from ``Pipeline.stats()``: of each node actor's process, of the replays'
    and of this one (the subscriber). Not counted: Ray's own processes (its raylet moves the frames
    through the object store)."""
    cpu = {a["actor"]: float(a.get("cpu_s", 0.0)) for a in figures["actors"]}
    sources = [s["source"] or {} for s in figures["streams"].values()]
    cpu["replays"] = sum(float(s.get("cpu_s", 0.0)) for s in sources)
    cpu["subscriber"] = time.process_time()
    return cpu


def run_pipelined(
    checkpoint: Path,
    root: Path,
    frames: BenchFrames,
    *,
    device: str = "auto",
    threads: int | None = None,
    warmup: int = 3,
    max_batch: int | str = "auto",
    timeout_s: float = 600.0,
    stages: StageOptions = EAGER_FP32,
    rate_hz: float = 0.0,
    model_actors: int = 1,
) -> BenchResult:
    """Stream the frames through a fresh pipeline on the current (or a new local) Ray.

    At a ``rate_hz``, late frames are dropped as from cameras: frames published are counted until
    every stream has published its share or the replays have played it, whichever comes first.
    """
    frames.measured(warmup)
    config = bench_config(
        checkpoint,
        root,
        frames,
        device=device,
        threads=threads,
        max_batch=max_batch,
        stages=stages,
        rate_hz=rate_hz,
        model_actors=model_actors,
    )
    pipeline = Pipeline(config.model_copy(update={"streams": []})).start()
    try:
        endpoint = pipeline.stats()["reports"]["publisher"]["endpoint"]
        with Subscriber(endpoint) as subscriber:
            time.sleep(0.3)  # let the subscription reach the publisher
            counts: dict[str, int] = defaultdict(int)
            latencies: list[float] = []
            started = ended = 0.0
            for spec in config.streams:
                pipeline.attach(spec)
            deadline = time.monotonic() + timeout_s
            warm = warmup * frames.streams  # the clock starts when this many frames have arrived
            total = 0
            # both replaced at the end of the warm-up, if there is one
            cpu_before, started = cpu_seconds(pipeline.stats()), time.perf_counter()
            while total < frames.frames * frames.streams:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the pipeline delivered {dict(counts)} frames in {timeout_s:g} s")
                result = subscriber.receive(timeout=1.0)
                if result is None or counts[result.stream] >= frames.frames:
                    continue
                counts[result.stream] += 1
                total += 1
                if total == warm:
                    cpu_before, started = cpu_seconds(pipeline.stats()), time.perf_counter()
                elif total > warm:
                    latencies.append(result.latency_ms["total"] / 1000.0)
                    ended = time.perf_counter()
            figures = pipeline.stats()
            cpu_after = cpu_seconds(figures)
    finally:
        pipeline.shutdown()
    mean_batch = figures["actors"][0].get("mean_batch", 0.0)
    dropped = sum(sum(s.get("dropped", {}).values()) for s in figures["streams"].values())
    wall = ended - started
    measured = max(len(latencies), 1)
    cpu_ms = {name: (cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / measured for name in cpu_after}
    extra = {"mean_batch": round(mean_batch, 2), "dropped": dropped, "rate_hz": rate_hz, **cpu_extra(cpu_ms)}
    return BenchResult.from_latencies(MODE, frames.streams, latencies, wall, extra=extra)
