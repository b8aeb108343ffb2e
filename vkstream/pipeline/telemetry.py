"""Per-frame timings rolled up into per-stream percentiles (p50/p90/p99) over a recent window.

Every frame that leaves the last node contributes its end-to-end latency (capture to publication)
and each node's queue wait and compute time; the first frames of a stream (model warm-up, first
connection) are left out, as Holoscan's data-flow tracking does.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Any

import numpy as np

from vkstream.nodes.node import Packet

PERCENTILES = (50, 90, 99)


class RollingWindow:
    """The latest ``size`` samples and their percentiles."""

    def __init__(self, size: int) -> None:
        self._values: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self._values.append(value)

    def summary(self) -> dict[str, float]:
        if not self._values:
            return {"count": 0}
        values = np.fromiter(self._values, float, len(self._values))
        percentiles = {
            f"p{p}": float(v) for p, v in zip(PERCENTILES, np.percentile(values, PERCENTILES), strict=True)
        }
        return {"count": len(values), **percentiles, "mean": float(values.mean()), "max": float(values.max())}


class _StreamFigures:
    def __init__(self, window: int) -> None:
        self.seen = self.counted = self.first_ns = self.last_ns = 0
        self.windows: dict[str, RollingWindow] = defaultdict(lambda: RollingWindow(window))


class Telemetry:
    """Thread-safe; ``record`` is called by the sink actor, ``snapshot`` by anyone asking."""

    def __init__(self, window: int = 1000, skip_first: int = 0) -> None:
        self.window = window
        self.skip_first = skip_first
        self._lock = threading.Lock()
        self._streams: dict[str, _StreamFigures] = {}

    def record(self, packets: list[Packet], now_ns: int | None = None) -> None:
        now_ns = time.time_ns() if now_ns is None else now_ns
        with self._lock:
            for p in packets:
                figures = self._streams.setdefault(p.stream, _StreamFigures(self.window))
                figures.seen += 1
                figures.last_ns = now_ns
                if figures.seen <= self.skip_first:
                    continue
                if figures.counted == 0:
                    figures.first_ns = now_ns
                figures.counted += 1
                figures.windows["e2e"].add((now_ns - p.stamp_ns) / 1e6)
                for t in p.timings:
                    figures.windows[f"{t.node}.wait"].add(t.wait_ms)
                    figures.windows[f"{t.node}.compute"].add(t.compute_ms)

    def forget(self, stream: str) -> None:
        with self._lock:
            self._streams.pop(stream, None)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per stream: frames out, the output rate, and a summary per timing key (milliseconds)."""
        with self._lock:
            out = {}
            for stream, f in self._streams.items():
                span = (f.last_ns - f.first_ns) / 1e9
                out[stream] = {
                    "frames": f.seen,
                    "rate_hz": (f.counted - 1) / span if f.counted > 1 and span > 0 else 0.0,
                    "latency_ms": {key: w.summary() for key, w in f.windows.items()},
                }
            return out
