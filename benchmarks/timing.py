"""What the benchmark scripts share: one-core pinning, the machine's description and timing statistics."""

from __future__ import annotations

import os

import numpy as np

from vkstream.bench.report import cpu_model


def pin_to_one_core() -> str:
    """Pin this process to its lowest allowed core, so figures are per core; says what was done."""
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity on this platform)"


def machine(pinning: str) -> str:
    """CPU model, the machine's cores and how this process was pinned (no torch import)."""
    return f"{cpu_model()}, {os.cpu_count()} cores, {pinning}"


def timing_stats(seconds: list[float], digits: int = 1) -> dict[str, float]:
    """Frames per second over the total, and the median and p90 per-frame milliseconds."""
    ms = np.array(seconds) * 1000.0
    return {
        "fps": round(len(ms) / (ms.sum() / 1000.0), 1),
        "median_ms": round(float(np.median(ms)), digits),
        "p90_ms": round(float(np.percentile(ms, 90)), digits),
    }
