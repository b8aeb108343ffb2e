"""The main job, ``vkstream demo``: replay synthetic KITTI sequences through the whole product.

Renders a small synthetic SemKITTI-DVPS set if there is none, starts a local Ray, replays one
sequence per stream at the camera's 10 Hz through the shipped checkpoint, publishes over ZeroMQ,
and a subscriber in this process writes annotated videos and PNG strips. It prints what a planner
sees (latency percentiles at receipt), what the pipeline measured per node, and the online STQ/DSTQ.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    data: Path
    out: Path
    checkpoint: Path
    streams: int = 2
    frames: int = 100
    speed: float = 1.0
    threads: int | None = None
    timeout_s: float = 90.0


@dataclass
class DemoReport:
    received: str
    pipeline: str
    evaluation: str
    files: list[Path] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def ensure_demo_data(root: Path, sequences: int, frames: int) -> None:
    """Render the demo's sequences (the benchmark's generator and seed) unless enough are already there."""
    from vkstream.bench.frames import ensure_bench_data
    from vkstream.data import open_dataset

    if not root.exists() or not any(root.iterdir()):
        log.info("rendering %d synthetic sequences of %d frames into %s", sequences, frames, root)
    ensure_bench_data(root, sequences=sequences, frames=frames)
    dataset = open_dataset(root, read_images=False)
    have = dataset.sequences
    if len(have) < sequences or any(dataset.num_frames(s) < frames for s in have[:sequences]):
        raise ValueError(
            f"{root} holds {len(have)} sequence(s) too short for {sequences} x {frames} frames; "
            "remove it or pick another --data folder"
        )


def demo_config(options: DemoOptions, sequences: list[str]) -> Any:
    """The pipeline: three model nodes fused on one device, the publisher on a free loopback port."""
    from vkstream.pipeline.config import PipelineConfig

    model = {"checkpoint": str(options.checkpoint), "threads": options.threads or os.cpu_count() or 1}
    return PipelineConfig.model_validate(
        {
            "name": "vkstream-demo",
            "nodes": [
                {"name": "backbone", "type": "backbone", "device": "auto", "options": model},
                {"name": "kernel_tracker", "type": "kernel_tracker", "device": "auto", "options": model},
                {"name": "depth_head", "type": "depth_head", "device": "auto", "options": model},
                {
                    "name": "publisher",
                    "type": "publisher",
                    "options": {"endpoint": "tcp://127.0.0.1:*", "queue_size": 8, "sndhwm": 64},
                    "resources": {"num_cpus": 0.5},
                },
            ],
            "streams": [
                {
                    "id": f"cam{i}",
                    "source": {
                        "kind": "kitti",
                        "root": str(options.data),
                        "sequence": seq,
                        "speed": options.speed,
                        "ground_truth": True,
                    },
                }
                for i, seq in enumerate(sequences)
            ],
            "control": {"enabled": False},
            "telemetry": {"skip_first": 3},
        }
    )


class _Receiver(threading.Thread):
    """Subscribes like a planner would and records every result with its camera image."""

    def __init__(self, endpoint: str, out: Path, images: dict[str, Any]) -> None:
        super().__init__(name="vkstream-demo-subscriber", daemon=True)
        from vkstream.client import Subscriber
        from vkstream.viz import LatencySummary, StreamRecorder

        self.subscriber = Subscriber(endpoint)
        self.recorder = StreamRecorder(out, fps=10.0)
        self.summary = LatencySummary()
        self.images = images
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                result = self.subscriber.receive(timeout=0.1)
                if result is None:
                    continue
                self.summary.add(result)
                self.recorder.add(result, self.images[result.stream](result.seq))
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def finish(self) -> list[Path]:
        self.stopping.set()
        self.join(10.0)
        self.subscriber.close()
        files = self.recorder.close()
        if self.error is not None:
            raise self.error
        return list(files)


def run_demo(options: DemoOptions) -> DemoReport:
    from vkstream.data import open_dataset
    from vkstream.pipeline.report import evaluations, format_evaluation, format_stats
    from vkstream.pipeline.runtime import Pipeline

    ensure_demo_data(options.data, options.streams, options.frames)
    dataset = open_dataset(options.data)
    sequences = dataset.sequences[: options.streams]
    config = demo_config(options, sequences)
    streams = config.streams
    images = {
        s.id: (lambda seq, name=name: dataset.read_frame(name, min(seq, dataset.num_frames(name) - 1)).image)
        for s, name in zip(streams, sequences, strict=True)
    }
    options.out.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(config.model_copy(update={"streams": []}))
    receiver = None
    try:
        pipeline.start()
        endpoint = pipeline.stats()["reports"]["publisher"]["endpoint"]
        receiver = _Receiver(endpoint, options.out, images)
        receiver.start()
        time.sleep(0.5)  # ZeroMQ's slow joiner: let the subscription reach the publisher first
        for spec in streams:
            pipeline.attach(spec)
        if not pipeline.wait(timeout=options.timeout_s):
            log.warning("the replays did not finish within %g s; stopping", options.timeout_s)
        time.sleep(0.3)  # the last messages on their way to the subscriber
    finally:
        final = pipeline.shutdown()
        files = receiver.finish() if receiver is not None else []
    evaluation = "\n".join(format_evaluation(e) for e in evaluations(final).values())
    return DemoReport(
        received=receiver.summary.format_table() if receiver is not None else "",
        pipeline=format_stats(final),
        evaluation=evaluation or "no online evaluation",
        files=files,
        stats=final,
    )
