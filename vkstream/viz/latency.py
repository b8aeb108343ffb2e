"""Per-stream latency, rate and loss of received results, summarised after a run or a soak test."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vkstream.client import StreamResult

PERCENTILES = (50, 90, 99)
AGE = "capture_to_receipt"
"""Key of the capture-to-receipt time (receipt - stamp_ns), alongside the publisher's stage keys."""


@dataclass
class _Stream:
    frames: int = 0
    dropped: int = 0
    lost: int = 0
    first_seq: int = 0
    last_seq: int | None = None
    last_dropped: int = 0
    first_receipt_ns: int = 0
    last_receipt_ns: int = 0
    stages: dict[str, list[float]] = field(default_factory=dict)
    """Stage name (``total``, the pipeline's stages, ``publish``, :data:`AGE`) -> milliseconds."""


class LatencySummary:
    """Collect received results and report, per stream, frames, drops, losses, latency and rate.

    ``lost`` counts published messages never received here: seq gaps that the ``dropped`` field does
    not explain (as :class:`~vkstream.client.SubscriberStats` counts them). With a ``latest_only``
    subscriber pass each result's ``superseded`` count, or those show up as lost. A seq that goes
    backwards (a restarted publisher) starts the gap accounting afresh.
    """

    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}

    def add(self, result: StreamResult, received_ns: int | None = None, superseded: int = 0) -> None:
        """Count ``result``; its receipt time is ``received_ns``, else ``result.received_ns``, else now."""
        receipt = received_ns if received_ns is not None else result.received_ns
        if receipt is None:
            receipt = time.time_ns()
        s = self._streams.get(result.stream)
        if s is None:
            s = self._streams[result.stream] = _Stream(first_seq=result.seq, first_receipt_ns=receipt)
        elif s.last_seq is not None and result.seq > s.last_seq:
            gap = result.seq - s.last_seq - 1
            s.lost += max(gap - max(result.dropped - s.last_dropped, 0) - superseded, 0)
        s.frames += 1
        s.dropped = result.dropped
        s.last_seq, s.last_dropped = result.seq, result.dropped
        s.last_receipt_ns = receipt
        for stage, ms in result.latency_ms.items():
            s.stages.setdefault(stage, []).append(float(ms))
        s.stages.setdefault(AGE, []).append((receipt - result.stamp_ns) / 1e6)

    @property
    def streams(self) -> list[str]:
        return sorted(self._streams)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """JSON-ready: per stream, counts, ``rate_hz`` (None below two frames) and per-stage statistics
        (``p50``, ``p90``, ``p99``, ``mean``, ``max`` in ms)."""
        return {name: self._stream_dict(self._streams[name]) for name in self.streams}

    def format_table(self) -> str:
        """A fixed-width table, one row per stream, then each stream's median per stage."""
        header = (
            f"{'stream':<16} {'frames':>7} {'dropped':>7} {'lost':>5} "
            f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'rx p50':>8} {'rate Hz':>8}"
        )
        lines = [header, "-" * len(header)]
        details = []
        for name, d in self.to_dict().items():
            total, age = d["latency_ms"].get("total", {}), d["latency_ms"][AGE]
            lines.append(
                f"{name:<16} {d['frames']:>7} {d['dropped']:>7} {d['lost']:>5} "
                f"{_ms(total.get('p50'))} {_ms(total.get('p90'))} {_ms(total.get('p99'))} "
                f"{_ms(age['p50'])} {_ms(d['rate_hz'])}"
            )
            stages = [f"{k} {v['p50']:.1f}" for k, v in d["latency_ms"].items() if k not in ("total", AGE)]
            if stages:
                details.append(f"  {name} stage p50 ms: {', '.join(stages)}")
        return "\n".join(lines + details)

    def _stream_dict(self, s: _Stream) -> dict[str, Any]:
        seconds = (s.last_receipt_ns - s.first_receipt_ns) / 1e9
        return {
            "frames": s.frames,
            "dropped": s.dropped,
            "lost": s.lost,
            "first_seq": s.first_seq,
            "last_seq": s.last_seq,
            "rate_hz": (s.frames - 1) / seconds if s.frames > 1 and seconds > 0 else None,
            "latency_ms": {stage: _stats(values) for stage, values in s.stages.items()},
        }


def _stats(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    p = np.percentile(array, PERCENTILES)
    return {
        **{f"p{q}": float(v) for q, v in zip(PERCENTILES, p, strict=True)},
        "mean": float(array.mean()),
        "max": float(array.max()),
    }


def _ms(value: float | None) -> str:
    return f"{'-':>8}" if value is None else f"{value:>8.1f}"
