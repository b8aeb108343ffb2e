"""Benchmark figures: one result per (mode, streams), a markdown table, a JSON file, the machine.

Imports neither torch nor the model (torch only when asked about the GPU), so benchmark scripts
that time other parts can describe the machine the same way.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

CORE_KEYS = ("mode", "streams", "fps", "p50_ms", "p99_ms", "frames")
BARE = "bare"
"""The mode every other mode is compared with ("vs bare")."""


@dataclass(frozen=True)
class BenchResult:
    """One mode at one stream count. ``fps`` counts frames of all streams together."""

    mode: str
    streams: int
    fps: float
    p50_ms: float
    p99_ms: float
    frames: int
    """Frames measured, over all streams (warm-up excluded)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Mode-specific figures (e.g. ``dropped``); JSON-serialisable values."""

    def __post_init__(self) -> None:
        clash = sorted(set(self.extra) & set(CORE_KEYS))
        if clash:
            raise ValueError(f"extra figures may not reuse the keys {', '.join(clash)}")

    @classmethod
    def from_latencies(
        cls,
        mode: str,
        streams: int,
        latencies_s: Sequence[float],
        wall_s: float,
        extra: Mapping[str, Any] | None = None,
    ) -> BenchResult:
        """fps = frames / wall time; p50/p99 of the per-frame latencies (seconds in, ms out)."""
        if not latencies_s or wall_s <= 0:
            raise ValueError("a benchmark result needs at least one measured frame and a positive wall time")
        ms = np.asarray(latencies_s, dtype=np.float64) * 1000.0
        return cls(
            mode=mode,
            streams=streams,
            fps=len(ms) / wall_s,
            p50_ms=float(np.percentile(ms, 50)),
            p99_ms=float(np.percentile(ms, 99)),
            frames=len(ms),
            extra=dict(extra or {}),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchResult:
        """The inverse of :meth:`to_dict` (for results read back from JSON)."""
        core = {key: data[key] for key in CORE_KEYS}
        return cls(**core, extra={k: v for k, v in data.items() if k not in CORE_KEYS})

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "streams": self.streams,
            "fps": round(self.fps, 3),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "frames": self.frames,
            **self.extra,
        }


def _ordered(results: Iterable[BenchResult]) -> list[BenchResult]:
    """Grouped by mode (in order of first appearance), streams ascending within a mode."""
    results = list(results)
    modes = list(dict.fromkeys(r.mode for r in results))
    return sorted(results, key=lambda r: (modes.index(r.mode), r.streams))


def format_table(results: Iterable[BenchResult]) -> str:
    """A markdown table; "vs bare" is fps over the bare loop's fps at the same stream count."""
    rows = _ordered(results)
    bare = {r.streams: r.fps for r in rows if r.mode == BARE}
    extras = list(dict.fromkeys(key for r in rows for key in r.extra))
    header = ["mode", "streams", "fps", "p50 ms", "p99 ms", "vs bare", *extras]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for r in rows:
        ratio = f"{r.fps / bare[r.streams]:.2f}x" if bare.get(r.streams) else "-"
        cells = [r.mode, str(r.streams), f"{r.fps:.1f}", f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}", ratio]
        cells += [_cell(r.extra.get(key)) for key in extras]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {_cell(v)}" for key, v in value.items())
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def cpu_extra(ms_per_frame: Mapping[str, float]) -> dict[str, Any]:
    """CPU milliseconds per measured frame, in all and (several processes) by process.

    On a machine with few cores, what a mode costs beside its own thread is what it takes from the
    model: the figure that says where a multi-process pipeline loses to a loop in one process.
    """
    extra: dict[str, Any] = {"cpu_ms": round(sum(ms_per_frame.values()), 1)}
    if len(ms_per_frame) > 1:
        ranked = sorted(ms_per_frame.items(), key=lambda item: -item[1])
        extra["cpu_ms_by_process"] = {name: round(ms, 1) for name, ms in ranked}
    return extra


def write_json(
    results: Iterable[BenchResult],
    path: str | os.PathLike[str],
    machine: Mapping[str, Any] | None = None,
    **info: Any,
) -> Path:
    """``{"machine": ..., **info, "results": [...]}``; ``machine`` defaults to :func:`machine_info`."""
    path = Path(path)
    document = {
        "machine": dict(machine) if machine is not None else machine_info(),
        **info,
        "results": [r.to_dict() for r in _ordered(results)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def cpu_model() -> str:
    """The CPU's marketing name where the OS tells it (Linux, macOS), else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        import subprocess

        try:
            done = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            )
            if done.returncode == 0 and done.stdout.strip():
                return done.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """Cores this process may run on (its affinity), which is what a benchmark gets."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine_info(gpu: bool = True) -> dict[str, Any]:
    """CPU model, cores, and (``gpu``) the CUDA device torch would use, or None without one."""
    info: dict[str, Any] = {"cpu": cpu_model(), "cores": usable_cores(), "platform": platform.platform()}
    if gpu:
        import torch

        info["torch"] = str(torch.__version__)
        info["gpu"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return info


def describe_machine(info: Mapping[str, Any] | None = None) -> str:
    """One line, e.g. ``AMD EPYC, 2 cores, no GPU``."""
    info = machine_info() if info is None else info
    text = f"{info['cpu']}, {info['cores']} cores"
    if "gpu" in info:
        text += f", GPU {info['gpu']}" if info["gpu"] else ", no GPU"
    return text


def median_run(results: list[BenchResult]) -> BenchResult:
    """The run of median throughput, with every run's fps beside it (a shared machine is noisy)."""
    ranked = sorted(results, key=lambda r: r.fps)
    median = ranked[(len(ranked) - 1) // 2]
    if len(results) == 1:
        return median
    return replace(median, extra={**median.extra, "fps_runs": [round(r.fps, 2) for r in results]})
