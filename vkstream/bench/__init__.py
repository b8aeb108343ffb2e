"""Benchmark of the same model on the same frames in several harnesses: bare, naive, pipeline.

Modes: ``bare`` (``step`` over preloaded tensors: the model's ceiling), ``naive`` (decode, step,
encode and publish one frame at a time in one thread, as reference repositories run inference) and
the Ray pipeline. Each gives a :class:`BenchResult` per stream count: frames/s over all streams and
per-frame latency p50/p99.

Names are loaded on first use, so ``vkstream.bench.report`` (machine description, tables) serves
benchmark scripts without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vkstream.bench.bare import run_bare
    from vkstream.bench.frames import BenchFrames, ensure_bench_data, load_bench_frames
    from vkstream.bench.naive import run_naive, wire_message
    from vkstream.bench.report import (
        BenchResult,
        cpu_extra,
        describe_machine,
        format_table,
        machine_info,
        median_run,
        write_json,
    )

_EXPORTS = {
    "BenchFrames": "frames",
    "ensure_bench_data": "frames",
    "load_bench_frames": "frames",
    "BenchResult": "report",
    "cpu_extra": "report",
    "describe_machine": "report",
    "format_table": "report",
    "machine_info": "report",
    "median_run": "report",
    "write_json": "report",
    "run_bare": "bare",
    "run_naive": "naive",
    "wire_message": "naive",
}

__all__ = [
    "BenchFrames",
    "BenchResult",
    "cpu_extra",
    "describe_machine",
    "ensure_bench_data",
    "format_table",
    "load_bench_frames",
    "machine_info",
    "median_run",
    "run_bare",
    "run_naive",
    "wire_message",
    "write_json",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vkstream.bench' has no attribute {name!r}")
    return getattr(importlib.import_module(f"vkstream.bench.{module}"), name)
