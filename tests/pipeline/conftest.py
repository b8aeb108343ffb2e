"""Pipelines on the session's Ray: the shipped model on small synthetic replays, and a subscriber."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from vkstream.client import StreamResult, Subscriber
from vkstream.pipeline.config import PipelineConfig
from vkstream.pipeline.runtime import Pipeline

CHECKPOINT = REPO / "checkpoints" / "synth_small.pt"
MODEL = {"checkpoint": str(CHECKPOINT), "device": "cpu", "threads": 1}


def model_nodes() -> list[dict[str, Any]]:
    return [{"name": n, "type": n} for n in ("backbone", "kernel_tracker", "depth_head")]


def evaluator_node(**options: Any) -> dict[str, Any]:
    return {"name": "evaluator", "type": "evaluator", "options": options, "resources": {"num_cpus": 0.25}}


def publisher_node(**options: Any) -> dict[str, Any]:
    return {
        "name": "publisher",
        "type": "publisher",
        "options": {"endpoint": "tcp://127.0.0.1:*", "queue_size": 16, "sndhwm": 256, **options},
        "resources": {"num_cpus": 0.5},
    }


def make_config(name: str, nodes: list[dict[str, Any]] | None = None, **sections: Any) -> PipelineConfig:
    data = {
        "name": name,
        "model": MODEL,
        "nodes": nodes if nodes is not None else [*model_nodes(), publisher_node()],
        "control": {"enabled": False},
        "telemetry": {"skip_first": 0},
        **sections,
    }
    return PipelineConfig.model_validate(data)


def kitti_stream(stream_id: str, root: Path, sequence: str, **source: Any) -> dict[str, Any]:
    return {"id": stream_id, "source": {"kind": "kitti", "root": str(root), "sequence": sequence, **source}}


class Collector(threading.Thread):
    """A planner's view: every result received, per stream, in arrival order."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(daemon=True)
        self.subscriber = Subscriber(endpoint)
        self.results: dict[str, list[StreamResult]] = defaultdict(list)
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._halt.is_set():
            result = self.subscriber.receive(timeout=0.05)
            if result is not None:
                with self._lock:
                    self.results[result.stream].append(result)

    def count(self, stream: str) -> int:
        with self._lock:
            return len(self.results[stream])

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 60.0, pipeline: Pipeline | None = None
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                received = {k: [r.seq for r in v][-12:] for k, v in self.results.items()}
                figures = pipeline.stats() if pipeline is not None else {}
                raise AssertionError(f"timed out; received {received}; pipeline: {figures}")
            time.sleep(0.05)

    def close(self) -> None:
        self._halt.set()
        self.join(5)
        self.subscriber.close()


@pytest.fixture
def running(ray_session: str) -> Iterator[Callable[[PipelineConfig], tuple[Pipeline, Collector]]]:
    """``running(config)``: a started pipeline (streams attached after the subscriber connected)."""
    started: list[tuple[Pipeline, Collector]] = []

    def start(config: PipelineConfig) -> tuple[Pipeline, Collector]:
        pipeline = Pipeline(config.model_copy(update={"streams": []})).start()
        endpoint = publisher_endpoint(pipeline)
        collector = Collector(endpoint)
        collector.start()
        started.append((pipeline, collector))
        time.sleep(0.3)  # the subscription reaches the publisher before the first frame
        for spec in config.streams:
            pipeline.attach(spec)
        return pipeline, collector

    yield start
    for pipeline, collector in started:
        pipeline.shutdown()
        collector.close()


def publisher_endpoint(pipeline: Pipeline) -> str:
    return pipeline.stats()["reports"]["publisher"]["endpoint"]
