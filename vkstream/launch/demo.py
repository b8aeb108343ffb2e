"""The main job, ``vkstream demo``: replay synthetic KITTI sequences through the whole product.

Renders a small synthetic SemKITTI-DVPS set if there is none, starts a local Ray and runs the fan-out
graph of ``configs/pipeline/fanout.yaml``: one sequence per stream at the camera's 10 Hz through the
shipped checkpoint, to a publisher (ZeroMQ), an online evaluator and an MCAP recorder. A subscriber in
this process writes annotated videos and PNG strips, and serves Foxglove live when asked. It prints
what a planner sees (latency percentiles at receipt), what the pipeline measured per node, and the
online STQ/DSTQ.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEMO_PORT = 5560
"""The wire format's default port, where ``vkstream listen tcp://127.0.0.1:5560`` looks first."""


@dataclass(frozen=True)
class DemoOptions:
    data: Path
    out: Path
    checkpoint: Path
    config: Path = Path("configs/pipeline/fanout.yaml")
    streams: int = 2
    frames: int = 100
    speed: float = 1.0
    threads: int | None = None
    max_batch: int | None = None
    """Frames (streams) per model batch; None: the config's batching."""
    timeout_s: float = 90.0
    port: int = DEMO_PORT
    """The publisher's loopback port; a free one when it is taken."""
    foxglove: Any = None
    """A :class:`vkstream.record.LiveAddress` to serve Foxglove on, or None."""
    allow_remote: bool = False
    """Let ``foxglove`` be an address other machines can reach."""
    announce: Callable[[str], None] = log.info
    """Told where to connect (the publisher's endpoint, Foxglove's address) before the replays start."""


@dataclass
class DemoReport:
    received: str
    pipeline: str
    evaluation: str
    files: list[Path] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def demo_config(options: DemoOptions, sequences: list[str]) -> Any:
    """The fan-out graph with the demo's model, its replays, a free loopback port and OUT/demo.mcap."""
    from vkstream.launch.config import load_config
    from vkstream.pipeline.config import PipelineConfig

    data = load_config(options.config, PipelineConfig).model_dump(mode="json")
    threads = options.threads or model_threads(os.cpu_count() or 1)
    data["model"] = {**(data["model"] or {}), "checkpoint": str(options.checkpoint), "threads": threads}
    if threads == 1:  # on a CPU, two actors: backbone and kernel tracker | depth head, beside the sinks
        data["model"]["split_after"] = 2
        # One pass over every stream's frame costs a 2-core host about a fifth less than a pass per
        # frame: 4.3-4.5 frames per second per stream in most runs against 3.0-3.9, for 0.1-0.2 s
        # more latency.
        data["batching"] = {**data["batching"], "max_batch": options.streams}
    own = {
        "publisher": {"endpoint": demo_endpoint(options.port), "queue_size": 8, "sndhwm": 64},
        "recorder": {"path": str(options.out / "demo.mcap"), "overwrite": True},
    }
    for node in data["nodes"]:
        node["options"] = {**node["options"], **own.get(node["type"], {})}
    # Preloaded: a camera hands over decoded frames; decoding four PNGs per frame at 10 Hz would take a
    # third of a core per stream from the pipeline on a small machine.
    source = {
        "kind": "kitti",
        "root": str(options.data),
        "speed": options.speed,
        "ground_truth": True,
        "preload": True,
    }
    data["streams"] = [
        {"id": f"cam{i}", "source": {**source, "sequence": seq}} for i, seq in enumerate(sequences)
    ]
    data.update(name="vkstream-demo", control={"enabled": False}, telemetry={"skip_first": 3})
    if options.max_batch is not None:
        data["batching"] = {**data["batching"], "max_batch": options.max_batch}
    return PipelineConfig.model_validate(data)


def model_threads(cores: int) -> int:
    """Torch threads for a model that shares the CPU with the demo's sinks and replays: all cores but one.

    A torch op waits for the slowest of its threads, so a thread whose core another process takes
    stalls every op it is part of (measured on 2 cores: the backbone took 145 ms a frame with 2
    threads beside the sinks, 88 ms with 1, and the demo served 2.2 against 3.6 frames per second
    per stream)."""
    return max(1, cores - 1)


def demo_endpoint(port: int = DEMO_PORT) -> str:
    """``tcp://127.0.0.1:PORT`` when nothing listens there, else a free loopback port (with a warning)."""
    if port == 0:
        return "tcp://127.0.0.1:*"
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ZeroMQ binds: TIME_WAIT is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            log.warning("port %d is taken (%s): publishing on a free port instead", port, exc.strerror)
            return "tcp://127.0.0.1:*"
    return f"tcp://127.0.0.1:{port}"


def run_demo(options: DemoOptions) -> DemoReport:
    from vkstream.bench.frames import ensure_sequences
    from vkstream.data import open_dataset
    from vkstream.pipeline.runtime import Pipeline
    from vkstream.viz.receiver import FrameReceiver
    from vkstream.viz.telemetry import evaluations, format_evaluation, format_stats

    ensure_sequences(options.data, options.streams, options.frames)
    dataset = open_dataset(options.data)
    sequences = dataset.sequences[: options.streams]
    config = demo_config(options, sequences)
    streams = config.streams
    names = {s.id: name for s, name in zip(streams, sequences, strict=True)}
    options.out.mkdir(parents=True, exist_ok=True)
    live = None
    if options.foxglove is not None:  # before Ray starts: a port in use fails at once
        from vkstream.record import FoxgloveOutput

        live = FoxgloveOutput(live=options.foxglove, allow_remote=options.allow_remote)
    pipeline = Pipeline(config.model_copy(update={"streams": []}))
    receiver = None
    try:
        pipeline.start()
        endpoint = next(r["endpoint"] for r in pipeline.stats()["reports"].values() if "endpoint" in r)
        options.announce(f"publishing on {endpoint} (vkstream listen {endpoint})")
        if live is not None:
            options.announce(f"serving Foxglove on {live.url} (Open connection, Foxglove WebSocket)")
        receiver = FrameReceiver(endpoint, options.out, dataset, names, (live,) if live else ())
        receiver.start()
        time.sleep(0.5)  # ZeroMQ's slow joiner: let the subscription reach the publisher first
        for spec in streams:
            pipeline.attach(spec)
        if not pipeline.wait(timeout=options.timeout_s):
            log.warning("the replays did not finish within %g s; stopping", options.timeout_s)
        time.sleep(0.3)  # the last messages on their way to the subscriber
    finally:
        final = pipeline.shutdown()
        try:
            files = receiver.finish() if receiver is not None else []
        finally:
            if live is not None:
                live.close()
    files += [Path(r["path"]) for r in final.get("reports", {}).values() if "path" in r]
    evaluation = "\n".join(format_evaluation(e) for e in evaluations(final).values())
    return DemoReport(
        received=receiver.summary.format_table() if receiver is not None else "",
        pipeline=format_stats(final),
        evaluation=evaluation or "no online evaluation",
        files=files,
        stats=final,
    )
