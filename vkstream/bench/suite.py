"""``vkstream bench``'s run: load the model once, then every mode at every stream count, ``repeat``
times interleaved (so a machine that slows down mid-run penalises every mode alike), and each one's
median run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vkstream.bench.report import BenchResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuiteOptions:
    checkpoint: Path
    """A checkpoint file or export directory; ignored with ``preset``."""
    preset: str | None
    """A model preset with random weights (speed does not depend on the weights)."""
    data: Path
    """Where the frames are, rendered there at ``size`` if it holds no dataset."""
    streams: tuple[int, ...]
    modes: tuple[str, ...]
    frames: int
    warmup: int
    threads: int
    size: tuple[int, int] | None = None
    """(width, height); None: the benchmark's own size."""
    device: str = "auto"
    precision: str = "fp32"
    compile: str = "none"
    channels_last: bool = False
    rate_hz: float = 0.0
    max_batch: int | str = "bare"
    """The pipeline's batching: a number, ``bare`` (every stream in one batch, as the bare loop) or
    ``auto`` (as pipeline configs: 1 on a CPU, for latency). Naive never batches."""
    model_actors: int | str = "auto"
    """The pipeline's model in 1 actor (``threads`` threads) or 2 (backbone | heads, half the threads
    each); auto: 2 on a CPU, 1 on a GPU."""
    repeat: int = 1
    json: Path | None = None


def run_suite(o: SuiteOptions, echo: Callable[[str], None] = print) -> list[BenchResult]:
    """Every (mode, stream count)'s median run; ``echo`` is told the machine and each run as it ends."""
    import torch

    from vkstream.bench.bare import run_bare
    from vkstream.bench.frames import BENCH_SIZE, ensure_bench_data, load_bench_frames
    from vkstream.bench.model import bench_checkpoint
    from vkstream.bench.naive import run_naive
    from vkstream.bench.report import describe_machine, median_run, write_json
    from vkstream.models.device import resolve_device
    from vkstream.models.options import StageOptions
    from vkstream.train.checkpoint import load_online

    torch.set_num_threads(o.threads)
    device = resolve_device(o.device)
    width, height = o.size or BENCH_SIZE
    root = ensure_bench_data(o.data, size=(width, height), frames=max(o.frames, 30))
    checkpoint = bench_checkpoint(o.checkpoint, o.preset, root)
    stages = StageOptions(precision=o.precision, compile=o.compile, channels_last=o.channels_last)
    online, _, metadata = load_online(
        checkpoint, device, options=None if stages == StageOptions() else stages
    )
    if o.compile != "none" or online.image_size is not None:
        seconds = online.warm_up((height, width), max_batch=max(o.streams))
        log.info("warmed up in %.1f s: %s", sum(seconds.values()), seconds)
    actors = (2 if device.type == "cpu" else 1) if o.model_actors == "auto" else int(o.model_actors)
    pipeline_threads = o.threads if actors == 1 else max(1, o.threads // 2)
    echo(
        f"machine: {describe_machine()}; device {device}, {o.threads} torch thread(s), "
        f"{o.preset or checkpoint}, {width}x{height}, {o.precision}, compile {o.compile}"
        + (", channels last" if o.channels_last else "")
        + (f"; pipeline: the model in {actors} actors, {pipeline_threads} thread(s) each" * (actors > 1))
    )
    runs: dict[tuple[str, int], list[BenchResult]] = {(m, c): [] for c in o.streams for m in o.modes}
    owns_ray = "pipeline" in o.modes and _start_ray()
    try:
        for repeat in range(o.repeat):
            for count in o.streams:
                frames = load_bench_frames(root, count, o.frames)
                for mode in o.modes:
                    log.info("%s, %d stream(s), %d frames each, run %d", mode, count, o.frames, repeat + 1)
                    if mode == "bare":
                        result = run_bare(online, frames, o.warmup)
                    elif mode == "naive":
                        result = run_naive(online, frames, warmup=o.warmup, labels=metadata["label_space"])
                    else:
                        from vkstream.bench.pipelined import run_pipelined

                        result = run_pipelined(
                            checkpoint,
                            root,
                            frames,
                            device=str(device),
                            threads=pipeline_threads,
                            warmup=o.warmup,
                            stages=stages,
                            rate_hz=o.rate_hz,
                            max_batch=count if o.max_batch == "bare" else o.max_batch,
                            model_actors=actors,
                        )
                    runs[(mode, count)].append(result)
                    echo(
                        f"  {mode:<8} {count} stream(s): {result.fps:6.2f} fps, p50 {result.p50_ms:.0f} ms, "
                        f"p99 {result.p99_ms:.0f} ms"
                    )
    finally:
        if owns_ray:
            import ray

            ray.shutdown()
    results = [median_run(r) for r in runs.values()]
    if o.json:
        write_json(
            results,
            o.json,
            frames=o.frames,
            warmup=o.warmup,
            threads=o.threads,
            device=str(device),
            model=o.preset or str(o.checkpoint),
            size=f"{width}x{height}",
            precision=o.precision,
            compile=o.compile,
            channels_last=o.channels_last,
            rate_hz=o.rate_hz,
            max_batch=o.max_batch,
            model_actors=actors,
        )
    return results


def _start_ray() -> bool:
    """Start a local Ray for the pipeline runs unless one is running; True if this started it."""
    import ray

    from vkstream.pipeline.config import RayConfig

    if ray.is_initialized():
        return False
    ray.init(
        include_dashboard=False,
        logging_level=logging.WARNING,
        namespace="vkstream-bench",
        **RayConfig().local_init_options(),  # as a pipeline starts its own
    )
    return True
