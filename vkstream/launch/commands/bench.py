"""``vkstream bench``: the same model on the same frames three ways: bare loop, naive loop, pipeline."""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from vkstream.launch.argtypes import parse_number_list, require_at_least
from vkstream.launch.commands import add_command

if TYPE_CHECKING:
    from vkstream.bench import BenchResult

log = logging.getLogger(__name__)

MODES = ("bare", "naive", "pipeline")

_EPILOG = """\
examples:
  vkstream bench
  vkstream bench --streams 1,2,4 --frames 40 --json runs/bench.json
  vkstream bench --modes bare,pipeline --device cuda

Modes, all with the same checkpoint, frames and machine:
  bare      OnlineVideoKNet.step in a loop over frames preloaded as tensors, all streams in one batch
  naive     one thread, one frame at a time: read and decode the PNG, step, encode, publish
            (how the reference repositories run inference)
  pipeline  the Ray pipeline: replays at speed 0 (preloaded, flow-controlled) -> model actor
            (batching across streams) -> publisher actor -> a subscriber in this process

fps counts frames of all streams per second; latency is per frame (bare: the step's time; naive:
read to send; pipeline: capture to publication, queueing included). Frames come from --data,
rendered there (621x188, seed 7) if it holds no dataset.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "bench",
        summary="measure throughput and latency: bare loop, naive loop, Ray pipeline",
        description="Benchmark the model three ways on the same frames and print a table.",
        epilog=_EPILOG,
    )
    parser.add_argument("--streams", default="1,2,4", help="stream counts (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=30, help="frames per stream (default: %(default)s)")
    parser.add_argument(
        "--warmup", type=int, default=3, help="frames per stream not measured (default: %(default)s)"
    )
    parser.add_argument("--modes", default=",".join(MODES), help="modes to run (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=Path("data/bench"), help="frames (default: %(default)s)")
    parser.add_argument(
        "--checkpoint", type=Path, default=Path("checkpoints/synth_small.pt"), help="default: %(default)s"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default: %(default)s)")
    parser.add_argument("--threads", type=int, help="torch threads in every mode (default: one per core)")
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="R",
        help="run every mode R times, interleaved, and report each one's median run (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    streams = [int(s) for s in parse_number_list(args.streams, "--streams", int)]
    for s in streams:
        require_at_least(s, 1, "--streams")
    require_at_least(args.frames, 2, "--frames")
    require_at_least(args.repeat, 1, "--repeat")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if unknown or not modes:
        raise ValueError(f"unknown mode {', '.join(unknown) or '(none)'}: choose from {', '.join(MODES)}")
    if not 0 <= args.warmup < args.frames:
        raise ValueError(f"--warmup must be 0..{args.frames - 1} to leave frames to measure")
    if not args.checkpoint.is_file():
        raise ValueError(f"checkpoint not found: {args.checkpoint}")
    threads = args.threads or os.cpu_count() or 1
    require_at_least(threads, 1, "--threads")

    import torch

    from vkstream.bench import (
        describe_machine,
        ensure_bench_data,
        format_table,
        load_bench_frames,
        write_json,
    )
    from vkstream.bench.bare import run_bare
    from vkstream.bench.naive import run_naive
    from vkstream.models import OnlineVideoKNet
    from vkstream.nodes.model_nodes import resolve_device
    from vkstream.train.checkpoint import load_model

    torch.set_num_threads(threads)
    device = resolve_device(args.device)
    root = ensure_bench_data(args.data, frames=max(args.frames, 30))
    model, _, _ = load_model(args.checkpoint, device)
    online = OnlineVideoKNet(model)
    print(f"machine: {describe_machine()}; device {device}, {threads} torch thread(s)", flush=True)
    runs: dict[tuple[str, int], list[BenchResult]] = {(m, c): [] for c in streams for m in modes}
    owns_ray = "pipeline" in modes and _start_ray()
    try:
        for repeat in range(args.repeat):
            for count in streams:
                frames = load_bench_frames(root, count, args.frames)
                for mode in modes:
                    log.info("%s, %d stream(s), %d frames each, run %d", mode, count, args.frames, repeat + 1)
                    if mode == "bare":
                        result = run_bare(online, frames, args.warmup)
                    elif mode == "naive":
                        result = run_naive(online, frames, warmup=args.warmup)
                    else:
                        from vkstream.bench.pipelined import run_pipelined

                        result = run_pipelined(
                            args.checkpoint,
                            root,
                            frames,
                            device=str(device),
                            threads=threads,
                            warmup=args.warmup,
                        )
                    runs[(mode, count)].append(result)
                    print(
                        f"  {mode:<8} {count} stream(s): {result.fps:6.2f} fps, p50 {result.p50_ms:.0f} ms, "
                        f"p99 {result.p99_ms:.0f} ms",
                        flush=True,
                    )
    finally:
        if owns_ray:
            import ray

            ray.shutdown()
    results = [median_run(r) for r in runs.values()]
    print(format_table(results))
    if args.json:
        write_json(
            results, args.json, frames=args.frames, warmup=args.warmup, threads=threads, device=str(device)
        )
    return 0


def median_run(results: list[BenchResult]) -> BenchResult:
    """The run of median throughput, with every run's fps beside it (a shared machine is noisy)."""
    ranked = sorted(results, key=lambda r: r.fps)
    median = ranked[(len(ranked) - 1) // 2]
    if len(results) == 1:
        return median
    return replace(median, extra={**median.extra, "fps_runs": [round(r.fps, 2) for r in results]})


def _start_ray() -> bool:
    """Start a local Ray for the pipeline runs unless one is running; True if this started it."""
    import ray

    if ray.is_initialized():
        return False
    ray.init(include_dashboard=False, logging_level=logging.WARNING, namespace="vkstream-bench")
    return True
