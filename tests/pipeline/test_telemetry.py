"""Rolling latency percentiles per stream."""

from __future__ import annotations

import numpy as np

from vkstream.nodes.node import Packet, StageTiming
from vkstream.pipeline.telemetry import RollingWindow, Telemetry


def test_percentiles_cover_only_the_latest_window() -> None:
    window = RollingWindow(100)
    for v in range(1000):
        window.add(float(v))
    s = window.summary()
    assert s["count"] == 100
    assert s["p50"] == np.percentile(np.arange(900, 1000), 50)
    assert s["p99"] == np.percentile(np.arange(900, 1000), 99)
    assert RollingWindow(5).summary() == {"count": 0}


def test_end_to_end_and_stage_times_per_stream_after_the_warm_up() -> None:
    telemetry = Telemetry(window=50, skip_first=2)
    ms = 1_000_000
    for seq in range(6):
        for stream, latency in (("a", 10), ("b", 30)):
            p = Packet(stream=stream, seq=seq, stamp_ns=1000 * ms + seq * 100 * ms)
            p.timings.append(StageTiming("model", 1.0, float(latency)))
            telemetry.record([p], now_ns=p.stamp_ns + latency * ms)
    snap = telemetry.snapshot()
    assert snap["a"]["frames"] == 6
    assert snap["a"]["latency_ms"]["e2e"]["count"] == 4
    assert snap["a"]["latency_ms"]["e2e"]["p50"] == 10
    assert snap["b"]["latency_ms"]["model.compute"]["p99"] == 30
    assert abs(snap["a"]["rate_hz"] - 10.0) < 1e-6
    telemetry.forget("a")
    assert set(telemetry.snapshot()) == {"b"}
