"""``vkstream demo``: the whole product on this machine, in about a minute, with nothing to set up."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from vkstream.launch.argtypes import require_at_least
from vkstream.launch.commands import add_command
from vkstream.launch.commands._foxglove_args import add_foxglove_options

_EPILOG = """\
examples:
  vkstream demo
  vkstream demo --streams 3 --frames 100 --out data/demo-out
  vkstream demo --foxglove

Renders a small synthetic KITTI-format set into --data if it is empty, starts a local Ray and runs
the fan-out graph of --config: one sequence per stream at 10 Hz through the checkpoint, to a
publisher on tcp://127.0.0.1:PORT (--port; a free loopback port, with a warning, when that one is
taken; the address is printed), an online evaluator and a recorder writing OUT/demo.mcap (open it in
Foxglove). A subscriber writes OUT/STREAM.mp4 (annotated: panoptic overlay with track ids, depth) and
OUT/STREAM_strip.png. Prints per-stream latency percentiles, each node's timings and the online
STQ/DSTQ against the replay's ground truth. On a CPU where the model gets one thread (--threads,
or 2 cores), it runs in two actors (backbone and kernel tracker | depth head: model.split_after 2),
so that a frame's backbone overlaps the depth head of the frame before.

--foxglove serves what the subscriber receives, with the camera images and calibration, over
Foxglove's WebSocket protocol: open the printed address in Foxglove (Open connection, Foxglove
WebSocket) and import docs/foxglove-layout.json. Foxglove reconnects by itself when the demo runs again.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "demo",
        summary="replay synthetic streams through the model and the ZeroMQ publisher",
        description="Run the streaming pipeline end to end on synthetic KITTI-format replays.",
        epilog=_EPILOG,
    )
    parser.add_argument(
        "--data", type=Path, default=Path("data/demo"), help="replay data (default: %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("data/demo-out"), help="annotated output (default: %(default)s)"
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=Path("checkpoints/synth_small.pt"),
        help="model checkpoint (default: %(default)s)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("configs/pipeline/fanout.yaml"),
        help="the pipeline graph (default: %(default)s)",
    )
    parser.add_argument("--streams", type=int, default=2, metavar="N", help="streams (default: %(default)s)")
    parser.add_argument(
        "--frames",
        type=int,
        default=100,
        metavar="F",
        help="frames rendered per stream (default: %(default)s)",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="multiple of the 10 Hz camera rate (default: %(default)s)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch threads of the model actor (default: one per core but one, which the sinks and "
        "replays use)",
    )
    parser.add_argument(
        "--max-batch",
        type=int,
        metavar="N",
        help="frames (streams) the model runs in one batch (default: every stream where the model "
        "has one thread on a CPU, else the config's batching, auto: 1 on a CPU, 8 on a GPU)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=5560,
        help="the publisher's loopback port; 0: a free one (default: %(default)s)",
    )
    add_foxglove_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    require_at_least(args.streams, 1, "--streams")
    require_at_least(args.frames, 2, "--frames")
    if args.max_batch is not None:
        require_at_least(args.max_batch, 1, "--max-batch")
    if not 0 <= args.port < 65536:
        raise ValueError(f"--port must be 0 (a free one) to 65535, got {args.port}")
    if args.speed < 0:
        raise ValueError(f"--speed must be at least 0, got {args.speed}")
    if not args.checkpoint.is_file():
        raise ValueError(f"checkpoint not found: {args.checkpoint}")
    from vkstream.launch.demo import DemoOptions, run_demo
    from vkstream.record import LiveAddress

    address = LiveAddress.from_option(args.foxglove, args.allow_remote)

    started = time.monotonic()
    report = run_demo(
        DemoOptions(
            data=args.data,
            out=args.out,
            checkpoint=args.checkpoint,
            config=args.config,
            streams=args.streams,
            frames=args.frames,
            speed=args.speed,
            threads=args.threads,
            max_batch=args.max_batch,
            port=args.port,
            foxglove=address,
            allow_remote=args.allow_remote,
            announce=lambda line: print(line, flush=True),
        )
    )
    print("received by the subscriber (latency: capture to publication):")
    print(report.received)
    print("\npipeline telemetry:")
    print(report.pipeline)
    print("\nonline evaluation (published frames against the replay's ground truth):")
    print(report.evaluation)
    print("\nwritten:")
    for path in report.files:
        print(f"  {path}")
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s")
    return 0
