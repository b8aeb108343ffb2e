"""Soak: many frames through the whole pipeline, streams attached and detached, a slow subscriber.

    python benchmarks/soak.py [--frames 10000] [--cycle 500] [--size 64x48] [--json OUT]

A random model of the tiny preset on small synthetic KITTI-STEP replays: ``main`` at speed 0 (as fast
as the pipeline takes it, flow-controlled) for the whole run, and ``side`` at its recorded 10 Hz,
attached and detached again every ``--cycle`` published frames. A fast subscriber takes every message;
a slow one (``--slow-ms`` per message, a 4-message receive queue) is connected for the middle half of
the run. Every few seconds (and every fortieth of the run) it samples the resident memory (/proc) of
each actor, the driver and the raylet (which holds Ray's object store) and the shared memory in use
(/dev/shm: the object store's objects over 100 KB; smaller ones live in each worker's own memory).
Prints, as JSON: memory growth after the warm-up (the first fifth), the fast subscriber's latency
with and without the slow one, and every drop counted (pipeline, publisher, subscribers).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def shm_used_mib() -> float:
    return shutil.disk_usage("/dev/shm").used / 2**20


class Listener(threading.Thread):
    """A subscriber thread: every message's (stream, seq, latency ms, when); ``delay_s`` per message."""

    def __init__(self, endpoint: str, delay_s: float = 0.0, rcvhwm: int = 64) -> None:
        from vkstream.client import Subscriber

        super().__init__(daemon=True)
        self.subscriber = Subscriber(endpoint, rcvhwm=rcvhwm)
        self.delay_s = delay_s
        self.received: list[tuple[str, int, float, float]] = []
        self._runs: dict[str, dict[str, Any]] = {}
        """Per stream's latest run: (seq, dropped) of its first and latest message, and the
        subscriber's counts before it."""
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            result = self.subscriber.receive(timeout=0.1)
            if result is None:
                continue
            assert result.received_ns is not None
            self.received.append(
                (result.stream, result.seq, (result.received_ns - result.stamp_ns) / 1e6, time.monotonic())
            )
            stats, run = self.subscriber.stats, self._runs.get(result.stream)
            if run is None or result.seq <= run["last"][0]:  # the first, or a stream attached again
                run = self._runs[result.stream] = {
                    "first": (result.seq, result.dropped),
                    "received": stats.received[result.stream] - 1,
                    "lost": stats.lost.get(result.stream, 0),
                }
            run["last"] = (result.seq, result.dropped)
            if self.delay_s:
                time.sleep(self.delay_s)

    def count(self, stream: str | None = None) -> int:
        return sum(1 for s, *_ in self.received if stream is None or s == stream)

    def close(self) -> dict[str, Any]:
        self.halt.set()
        self.join(5)
        stats = self.subscriber.stats
        self.subscriber.close()
        # Between the first and the last message of a stream's run, every seq was received, counted
        # lost by the subscriber or counted dropped by the pipeline: nothing unaccounted for.
        unaccounted = {}
        for stream, run in self._runs.items():
            (first, d0), (last, d1) = run["first"], run["last"]
            received = stats.received[stream] - run["received"]
            lost = stats.lost.get(stream, 0) - run["lost"]
            unaccounted[stream] = (last - first + 1) - received - lost - (d1 - d0)
        return {
            "received": dict(stats.received),
            "lost": dict(stats.lost),
            "superseded": dict(stats.superseded),
            "bad": dict(stats.bad),
            "unaccounted": unaccounted,
        }


def _growth(series: list[tuple[float, float]], start: float) -> dict[str, float]:
    """Resident memory after warm-up: the median of the first and of the last tenth of the samples."""
    values = [v for t, v in series if t >= start]
    if len(values) < 4:
        return {"samples": len(values)}
    tenth = max(1, len(values) // 10)
    first, last = statistics.median(values[:tenth]), statistics.median(values[-tenth:])
    return {
        "samples": len(values),
        "after_warm_up_mib": round(first, 1),
        "end_mib": round(last, 1),
        "growth_pct": round(100 * (last - first) / first, 2),
        "max_mib": round(max(values), 1),
    }


def _latency(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": round(ordered[len(ordered) // 2], 1),
        "p90": round(ordered[int(len(ordered) * 0.9)], 1),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
    }


def make_inputs(folder: Path, size: tuple[int, int]) -> tuple[Path, Path]:
    """(checkpoint of a random tiny-preset model, synthetic dataset of two 20-frame sequences)."""
    from vkstream.models import VideoKNet, preset
    from vkstream.synth import generate_dataset
    from vkstream.train.checkpoint import checkpoint_payload, write_checkpoint

    cfg = preset("tiny")
    checkpoint = folder / "tiny.pt"
    write_checkpoint(checkpoint_payload(VideoKNet(cfg).eval(), cfg), checkpoint)
    data = folder / "data"
    generate_dataset(data, layout="kitti-step", sequences=2, frames=20, size=size, seed=2, progress=False)
    return checkpoint, data


def soak(
    frames: int = 10_000,
    cycle: int = 500,
    size: tuple[int, int] = (64, 48),
    slow_ms: float = 200.0,
    sample_every_s: float = 2.0,
    name: str = "soak",
    folder: Path | None = None,
) -> dict[str, Any]:
    """Run the soak on the Ray this process is connected to (a local one is started if none)."""
    import ray

    from vkstream.pipeline.config import PipelineConfig, RayConfig
    from vkstream.pipeline.runtime import Pipeline

    own = folder is None
    folder = Path(tempfile.mkdtemp()) if folder is None else folder
    checkpoint, data = make_inputs(folder, size)

    def stream(stream_id: str, sequence: str, speed: float) -> dict[str, Any]:
        source = {"kind": "kitti", "root": str(data), "sequence": sequence, "speed": speed}
        return {"id": stream_id, "source": {**source, "loop": True, "preload": True}}

    config = PipelineConfig.model_validate(
        {
            "name": name,
            "model": {"checkpoint": str(checkpoint), "device": "cpu", "threads": 1},
            "nodes": [
                {"name": "backbone", "type": "backbone"},
                {"name": "kernel_tracker", "type": "kernel_tracker"},
                {"name": "depth_head", "type": "depth_head"},
                {
                    "name": "publisher",
                    "type": "publisher",
                    "options": {"endpoint": "tcp://127.0.0.1:*", "sndhwm": 16},
                    "resources": {"num_cpus": 0.5},
                },
            ],
            "control": {"enabled": False},
            "telemetry": {"skip_first": 5},
        }
    )
    if not ray.is_initialized():
        ray.init(
            num_cpus=4,
            include_dashboard=False,
            logging_level="WARNING",
            log_to_driver=False,
            **RayConfig().local_init_options(),
        )
    pipeline = Pipeline(config).start()
    endpoint = pipeline.stats()["reports"]["publisher"]["endpoint"]
    fast, slow = Listener(endpoint), Listener(endpoint, delay_s=slow_ms / 1000, rcvhwm=4)
    fast.start()
    time.sleep(0.5)
    pipeline.attach(stream("main", "0000", 0))
    actors = {
        "model": f"{name}-backbone+kernel_tracker+depth_head",
        "publisher": f"{name}-publisher",
        "state": f"{name}-#state",
        "ingest main": f"{name}-source-main",
    }
    pids = {label: ray.get(ray.get_actor(actor).pid.remote()) for label, actor in actors.items()}
    pids["driver"] = os.getpid()
    node = getattr(ray._private.worker, "_global_node", None)  # the raylet runs the object store
    for process in (getattr(node, "all_processes", None) or {}).get("raylet", []):
        pids["raylet (object store)"] = process.process.pid
    memory: dict[str, list[tuple[float, float]]] = defaultdict(list)
    shm: list[tuple[float, float]] = []
    cycles = side_attached = 0
    detached_reports: list[dict[str, Any]] = []
    slow_window: list[float] = []
    start = time.monotonic()
    next_sample = start
    # Also every fortieth of the run: on a fast machine a short soak ends within a few sampling periods.
    sample_frames, next_sample_frame = max(1, frames // 40), 0
    next_toggle = cycle
    slow_on, slow_off = frames // 4, 3 * frames // 4
    try:
        while (done := fast.count()) < frames:
            now = time.monotonic()
            if now >= next_sample or done >= next_sample_frame:
                next_sample = now + sample_every_s
                next_sample_frame = done + sample_frames
                for label, pid in pids.items():
                    memory[label].append((done, rss_mib(pid)))
                shm.append((done, shm_used_mib()))
            if done >= next_toggle:
                next_toggle += cycle
                cycles += 1
                if side_attached:
                    report = pipeline.detach("side")
                    detached_reports.append(report.get("source", {}))
                    side_attached = 0
                else:
                    pipeline.attach(stream("side", "0001", 1))
                    side_attached = 1
            if done >= slow_on and not slow.is_alive() and not slow.halt.is_set():
                slow.start()
                slow_window.append(time.monotonic())
            if done >= slow_off and slow.is_alive() and len(slow_window) == 1:
                slow_window.append(time.monotonic())
                slow_figures = slow.close()
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        stats = pipeline.stats()
    finally:
        pipeline.shutdown()
        fast_figures = fast.close()
        if slow.is_alive():
            slow_window.append(time.monotonic())
            slow_figures = slow.close()
        if own:
            shutil.rmtree(folder, ignore_errors=True)
    warm_up = frames // 5
    on, off = slow_window[0], slow_window[-1]
    main_latency = [(lat, t) for s, _, lat, t in fast.received if s == "main"]
    after_warm_up = [t for s, _, _, t in fast.received if s == "main"][warm_up // 2 :]
    since = after_warm_up[0] if after_warm_up else start
    return {
        "frames_published": fast.count(),
        "seconds": round(elapsed, 1),
        "frames_per_s": round(fast.count() / elapsed, 1),
        "attach_detach_cycles": cycles,
        "memory_mib": {label: _growth(series, warm_up) for label, series in memory.items()},
        "shared_memory_mib": _growth(shm, warm_up),
        "fast_latency_ms": {
            "slow_subscriber_connected": _latency([lat for lat, t in main_latency if on <= t <= off]),
            "slow_subscriber_absent": _latency(
                [lat for lat, t in main_latency if t >= since and not on <= t <= off]
            ),
        },
        "drops": {
            "pipeline": {sid: s.get("dropped", {}) for sid, s in stats["streams"].items()},
            "detached_side_runs": [
                {k: r.get(k) for k in ("frames", "state", "stalls")} for r in detached_reports[-3:]
            ],
            "publisher_dropped": stats["reports"]["publisher"]["publisher_dropped"],
            "fast_subscriber": fast_figures,
            "slow_subscriber": slow_figures,
        },
        "stalls_main": stats["streams"].get("main", {}).get("source", {}).get("stalls"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--cycle", type=int, default=500, help="attach or detach side every N frames")
    parser.add_argument("--size", default="64x48", help="frame size WxH (at least 32x32)")
    parser.add_argument("--slow-ms", type=float, default=200.0, help="the slow subscriber's time per message")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    sys.path.insert(0, str(REPO))
    figures = soak(args.frames, args.cycle, (width, height), args.slow_ms)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
