"""``vkstream bench``: the same model on the same frames three ways: bare loop, naive loop, pipeline."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from vkstream.launch.argtypes import parse_number_list, parse_size, require_at_least
from vkstream.launch.commands import add_command
from vkstream.launch.errors import UsageError

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
"""vkstream.models.options.PRECISIONS, spelled out: --help must not import pydantic."""

MODES = ("bare", "naive", "pipeline")
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune")
DEFAULT_DATA = Path("data/bench")

_EPILOG = """\
examples:
  vkstream bench
  vkstream bench --streams 1,2,4 --frames 40 --json runs/bench.json
  vkstream bench --modes bare,pipeline --device cuda
  vkstream bench --preset kitti_r50 --size 1248x384 --device cuda --precision bf16 --compile default
  vkstream bench --checkpoint exports/synth_small --modes bare,naive     # an export directory
  vkstream bench --modes pipeline --streams 1,2,4,8 --rate 10           # cameras at 10 Hz: latency

Modes, all with the same checkpoint, frames and machine:
  bare      OnlineVideoKNet.step in a loop over frames preloaded as tensors, all streams in one batch
  naive     one thread, one frame at a time: read and decode the PNG, step, encode, publish
            (how the reference repositories run inference)
  pipeline  the Ray pipeline: replays at speed 0 (preloaded, flow-controlled) -> model actor(s)
            (batching across streams; on a CPU the backbone and the heads in two actors) ->
            publisher actor -> a subscriber in this process

fps counts frames of all streams per second; latency is per frame (bare: the step's time; naive:
read to send; pipeline: capture to publication, queueing included). Frames come from --data,
rendered there (--size, seed 7) if it holds no dataset. --preset runs a preset's architecture with
random weights (speed does not depend on the weights), e.g. kitti_r50, which ships no checkpoint.
--precision, --compile and --channels-last set every stage's; compiled stages are warmed up before
measuring.
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
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="frames (default: %(default)s)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=Path("checkpoints/synth_small.pt"),
        help="checkpoint file or export directory (default: %(default)s)",
    )
    parser.add_argument("--preset", help="a model preset with random weights instead of --checkpoint")
    parser.add_argument("--size", default=None, metavar="WxH", help="frame size (default: 621x188)")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS, help="stage precision")
    parser.add_argument("--compile", default="none", choices=COMPILE_MODES, help="torch.compile mode")
    parser.add_argument(
        "--channels-last", action="store_true", help="NHWC memory format for every stage's convolutions"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        metavar="HZ",
        help="pipeline: each stream replays at HZ (cameras at 10 Hz: 10); 0: as fast as it is taken "
        "(default)",
    )
    parser.add_argument(
        "--max-batch",
        default="bare",
        metavar="N",
        help="pipeline: most frames (streams) in one batch; bare: every stream, as the bare loop "
        "batches them; auto: as pipeline configs, 1 on a CPU (default: %(default)s; naive never "
        "batches)",
    )
    parser.add_argument(
        "--model-actors",
        default="auto",
        choices=("auto", "1", "2"),
        help="pipeline: the model in one actor with every thread, or in two (backbone | heads) with "
        "half the threads each, running two frames' stages side by side; auto: 2 on a CPU, 1 on a "
        "GPU (default: %(default)s)",
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
    if args.preset is None and not args.checkpoint.exists():
        raise ValueError(f"checkpoint not found: {args.checkpoint}")
    if args.rate < 0:
        raise ValueError(f"--rate must be 0 (as fast as taken) or a positive rate in Hz, got {args.rate:g}")
    max_batch: int | str = args.max_batch
    if args.max_batch not in ("auto", "bare"):
        if not args.max_batch.isdigit():
            raise UsageError(f"invalid --max-batch '{args.max_batch}': a whole number, bare or auto")
        max_batch = require_at_least(int(args.max_batch), 1, "--max-batch")
    threads = args.threads or os.cpu_count() or 1
    require_at_least(threads, 1, "--threads")
    size = parse_size(args.size) if args.size else None
    from vkstream.bench import format_table
    from vkstream.bench.suite import SuiteOptions, run_suite

    options = SuiteOptions(
        checkpoint=args.checkpoint,
        preset=args.preset,
        data=args.data
        if size is None or args.data != DEFAULT_DATA
        else Path(f"{args.data}-{size[0]}x{size[1]}"),
        streams=tuple(streams),
        modes=tuple(modes),
        frames=args.frames,
        warmup=args.warmup,
        threads=threads,
        size=size,
        device=args.device,
        precision=args.precision,
        compile=args.compile,
        channels_last=args.channels_last,
        rate_hz=args.rate,
        max_batch=max_batch,
        model_actors=args.model_actors if args.model_actors == "auto" else int(args.model_actors),
        repeat=args.repeat,
        json=args.json,
    )
    print(format_table(run_suite(options, echo=lambda line: print(line, flush=True))))
    return 0
