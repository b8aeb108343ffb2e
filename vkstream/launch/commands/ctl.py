"""``vkstream ctl``: attach, detach and inspect streams of a running ``vkstream run``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vkstream.launch.commands import add_command

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5561"

_EPILOG = """\
examples:
  vkstream ctl streams
  vkstream ctl stats
  vkstream ctl attach rear rtsp://192.168.1.20:554/stream1
  vkstream ctl attach cam0 0                         # USB camera /dev/video0
  vkstream ctl attach replay kitti:data/demo:000001 --speed 2 --loop
  vkstream ctl detach rear
  vkstream ctl stop                                  # shut the pipeline down cleanly
  vkstream ctl --endpoint tcp://10.0.0.5:5561 --keys keys/ --client operator stats   # CURVE

SOURCE is a camera index or /dev/videoN, an rtsp:// or http:// URL, a video file, a folder of
images, a KITTI-format folder, or kitti:ROOT[:SEQUENCE]. --json prints the raw reply.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "ctl",
        summary="control a running pipeline: streams, stats, attach, detach, stop",
        description="Talk to the control endpoint of a running 'vkstream run'.",
        epilog=_EPILOG,
    )
    parser.add_argument(
        "--endpoint", default=DEFAULT_ENDPOINT, help="control endpoint (default: %(default)s)"
    )
    parser.add_argument(
        "--timeout", type=float, default=15.0, metavar="S", help="seconds to wait for a reply"
    )
    parser.add_argument("--json", action="store_true", help="print the reply as JSON")
    parser.add_argument("--keys", type=Path, metavar="DIR", help="CURVE key folder from 'vkstream keys'")
    parser.add_argument("--client", default="client", metavar="NAME", help="client key name in --keys")
    ops = parser.add_subparsers(title="operations", dest="op", metavar="OP", required=True)
    ops.add_parser("streams", help="each stream's source and state")
    ops.add_parser("stats", help="per-stream latency percentiles, rates and drops")
    attach = ops.add_parser("attach", help="add a stream")
    attach.add_argument("id", help="stream id (topic suffix)")
    attach.add_argument("source", help="camera index, URL, video file, folder or kitti:ROOT[:SEQUENCE]")
    attach.add_argument(
        "--speed", type=float, help="replays: multiple of the native rate, 0 = as fast as possible"
    )
    attach.add_argument("--loop", action="store_true", help="replays: start again at the end")
    attach.add_argument("--ground-truth", action="store_true", help="KITTI replays: score online")
    detach = ops.add_parser("detach", help="remove a stream and free its state")
    detach.add_argument("id", help="stream id")
    ops.add_parser("stop", help="shut the pipeline down")
    ops.add_parser("ping", help="check that the pipeline answers")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vkstream.client.control import ControlClient
    from vkstream.client.curve import CurveClientKeys
    from vkstream.viz.telemetry import format_stats

    curve = None if args.keys is None else CurveClientKeys.from_dir(args.keys, args.client)
    client = ControlClient(args.endpoint, args.timeout, curve=curve)
    if args.op == "attach":
        result = client.call("attach", stream={"id": args.id, "source": source_dict(args)})
    elif args.op == "detach":
        result = client.call("detach", id=args.id)
    elif args.op == "stop":
        result = client.call("shutdown")
    else:
        result = client.call(args.op)
    if args.json:
        print(json.dumps(result, indent=2))
    elif args.op == "stats":
        print(format_stats(result))
    elif args.op == "streams":
        for sid, s in result.items():
            error = f"  last error: {s['last_error']}" if s.get("last_error") else ""
            print(f"{sid}: {s.get('state')} {s.get('source', '')} frames {s.get('frames', 0)}{error}")
        if not result:
            print("no streams attached")
    elif args.op == "detach":
        print(f"detached {args.id}: {result.get('frames', 0)} frames published")
    else:
        print(result)
    return 0


def source_dict(args: argparse.Namespace) -> dict[str, object]:
    """The source config for ``attach``, from the shorthand plus the replay options given."""
    from vkstream.nodes.sources import parse_source

    spec = parse_source(args.source)
    updates: dict[str, object] = {}
    if args.speed is not None:
        updates["speed"] = args.speed
    if args.loop:
        updates["loop"] = True
    if args.ground_truth:
        updates["ground_truth"] = True
    unknown = sorted(k for k in updates if k not in type(spec).model_fields)
    if unknown:
        raise ValueError(f"--{unknown[0].replace('_', '-')} does not apply to a {spec.kind} source")
    source = {**spec.model_dump(mode="json"), **updates}
    for key in ("path", "root"):  # the pipeline may run in another folder than this command
        if isinstance(source.get(key), str):
            source[key] = str(Path(source[key]).resolve())
    return source
