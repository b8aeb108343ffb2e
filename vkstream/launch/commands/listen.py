"""``vkstream listen``: subscribe to a publisher and report what arrives; save images, record MCAP or
serve the results to Foxglove live."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from vkstream.launch.argtypes import require_at_least, require_in_range
from vkstream.launch.commands import add_command
from vkstream.launch.commands._foxglove_args import add_foxglove_options
from vkstream.launch.errors import UsageError

_EPILOG = """\
examples:
  vkstream listen tcp://127.0.0.1:5560
  vkstream listen tcp://robot.local:5560 --streams front_left front_right --interval 5
  vkstream listen tcp://127.0.0.1:5560 --count 20 --save out/listen
  vkstream listen tcp://10.0.0.2:5560 --keys keys/ --client planner --latest-only
  vkstream listen tcp://127.0.0.1:5560 --count 100 --mcap runs/drive.mcap
  vkstream listen tcp://127.0.0.1:5560 --foxglove --intrinsics 721.5,721.5,609.6,172.9

Every --interval seconds one line per stream: message rate, latency from capture to publish
(latency_ms.total) and from capture to receipt here, segments (things), and frames dropped by the
pipeline and lost on the way. Stops when each stream (those of --streams, and every other stream
heard from) has sent --count messages, after --duration seconds, or on Ctrl-C (or SIGTERM; a
recording is finished either way).

--mcap and --foxglove send what arrives in Foxglove's schemas, as a file or live (in Foxglove: Open
connection, Foxglove WebSocket, the printed address): per stream /STREAM/panoptic and depth images,
annotations and things (the tracked things' boxes and 3D positions), track_list, telemetry (latency,
drops), segments, and calibration with --intrinsics; all stamped with the capture time, so a
recording replays at the camera's timing. docs/foxglove.md lists them; docs/foxglove-layout.json
arranges them.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "listen",
        summary="subscribe to published results and report rate, latency and segments",
        description=(
            "Connect to a vkstream publisher, decode every result and print per-stream statistics; "
            "--save writes colourised panoptic and depth PNGs of what arrives."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("endpoint", metavar="ENDPOINT", help="publisher endpoint, e.g. tcp://127.0.0.1:5560")
    parser.add_argument("--streams", nargs="+", metavar="ID", help="only these stream ids (default: all)")
    parser.add_argument("--save", type=Path, metavar="DIR", help="write DIR/STREAM/SEQ_{panoptic,depth}.png")
    parser.add_argument(
        "--save-every", type=int, default=1, metavar="N", help="save one message in N (default: %(default)s)"
    )
    parser.add_argument(
        "--count", type=int, metavar="N", help="stop when every stream has sent N messages (N frames of each)"
    )
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between reports (default: %(default)s)",
    )
    parser.add_argument("--latest-only", action="store_true", help="skip to the newest result per stream")
    parser.add_argument("--topic-prefix", default="vkstream", help="topic prefix (default: %(default)s)")
    parser.add_argument("--keys", type=Path, metavar="DIR", help="CURVE key folder from 'vkstream keys'")
    parser.add_argument("--client", default="client", metavar="NAME", help="client key name in --keys")
    parser.add_argument("--mcap", type=Path, metavar="FILE", help="record what arrives into FILE (*.mcap)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --mcap file")
    add_foxglove_options(parser)
    parser.add_argument(
        "--intrinsics",
        action="append",
        metavar="[STREAM=]FX,FY,CX,CY",
        help="pinhole intrinsics of the cameras (pixels, at the results' size) for /STREAM/calibration; "
        "without STREAM= for every stream not named (repeatable)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.count is not None:
        require_at_least(args.count, 1, "--count")
    if args.duration is not None:
        require_in_range(args.duration, 0.0, 1e9, "--duration")
    require_in_range(args.interval, 0.0, 1e6, "--interval")
    require_at_least(args.save_every, 1, "--save-every")
    if args.mcap is not None and args.mcap.is_file() and not args.overwrite:
        raise UsageError(f"--mcap {args.mcap} exists: add --overwrite to replace it")
    from vkstream.client import CurveClientKeys, Subscriber
    from vkstream.record import FoxgloveOutput, LiveAddress, parse_intrinsics
    from vkstream.viz.listen import listen

    address = LiveAddress.from_option(args.foxglove, args.allow_remote)
    intrinsics = parse_intrinsics(args.intrinsics)
    curve = None if args.keys is None else CurveClientKeys.from_dir(args.keys, args.client)
    with contextlib.ExitStack() as stack:
        sub = stack.enter_context(
            Subscriber(
                args.endpoint, args.streams, curve=curve, topic_prefix=args.topic_prefix,
                latest_only=args.latest_only,
            )
        )  # fmt: skip
        out = None
        if args.mcap is not None or address is not None:
            out = stack.enter_context(
                FoxgloveOutput(
                    args.mcap, address, overwrite=args.overwrite, allow_remote=args.allow_remote,
                    intrinsics=intrinsics,
                )
            )  # fmt: skip
            if args.mcap is not None:
                print(f"recording into {args.mcap}", flush=True)
            if out.url is not None:
                print(f"serving Foxglove on {out.url} (Open connection, Foxglove WebSocket)", flush=True)
        print(f"listening on {args.endpoint} for {', '.join(args.streams or ['all streams'])}", flush=True)
        report = listen(
            sub, count=args.count, streams=args.streams, duration=args.duration, interval=args.interval,
            sinks=[out] if out else [], save=args.save, save_every=args.save_every,
            echo=lambda line: print(line, flush=True),
        )  # fmt: skip
        lost = sum(sub.stats.lost.values())
    if out is not None and args.mcap is not None:
        print(f"recorded {out.messages} messages into {args.mcap}")
    print("\n".join(report.summary(lost)))
    return 0
