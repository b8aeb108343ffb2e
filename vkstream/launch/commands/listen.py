"""``vkstream listen``: subscribe to a publisher and report what arrives, optionally saving images."""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vkstream.launch.argtypes import require_at_least, require_in_range
from vkstream.launch.commands import add_command

if TYPE_CHECKING:
    from vkstream.client import StreamResult, SubscriberStats

_EPILOG = """\
examples:
  vkstream listen tcp://127.0.0.1:5560
  vkstream listen tcp://robot.local:5560 --streams front_left front_right --interval 5
  vkstream listen tcp://127.0.0.1:5560 --count 20 --save out/listen
  vkstream listen tcp://10.0.0.2:5560 --keys keys/ --client planner --latest-only

Every --interval seconds one line per stream: message rate, latency from capture to publish
(latency_ms.total) and from capture to receipt here, segments (things), and frames dropped by the
pipeline and lost on the way. Stops after --count messages or --duration seconds, or on Ctrl-C.
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
    parser.add_argument("--count", type=int, metavar="N", help="stop after N messages")
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
    parser.set_defaults(handler=run)


@dataclass
class _Window:
    """Statistics of one stream since the last report."""

    messages: int = 0
    total_ms: list[float] = field(default_factory=list)
    age_ms: list[float] = field(default_factory=list)
    segments: int = 0
    things: int = 0
    dropped: int = 0


def run(args: argparse.Namespace) -> int:
    if args.count is not None:
        require_at_least(args.count, 1, "--count")
    if args.duration is not None:
        require_in_range(args.duration, 0.0, 1e9, "--duration")
    require_in_range(args.interval, 0.0, 1e6, "--interval")
    require_at_least(args.save_every, 1, "--save-every")
    from vkstream.client import CurveClientKeys, Subscriber, WireFormatError

    curve = None if args.keys is None else CurveClientKeys.from_dir(args.keys, args.client)
    start = time.monotonic()
    deadline = None if args.duration is None else start + args.duration
    windows: dict[str, _Window] = defaultdict(_Window)
    totals: dict[str, int] = defaultdict(int)
    bad = 0
    next_report = start + args.interval
    with Subscriber(
        args.endpoint,
        args.streams,
        curve=curve,
        topic_prefix=args.topic_prefix,
        latest_only=args.latest_only,
    ) as sub:
        wanted = ", ".join(args.streams) if args.streams else "all streams"
        print(f"listening on {args.endpoint} for {wanted}")
        try:
            while args.count is None or sum(totals.values()) < args.count:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                wait = next_report - now if deadline is None else min(next_report, deadline) - now
                try:
                    result = sub.receive(timeout=max(wait, 0.0))
                except WireFormatError as exc:
                    bad += 1
                    print(f"bad message on {exc.topic!r}: {exc}", file=sys.stderr)
                    continue
                if result is not None:
                    totals[result.stream] += 1
                    _add(windows[result.stream], result)
                    if args.save is not None and (totals[result.stream] - 1) % args.save_every == 0:
                        _save(args.save, result)
                if time.monotonic() >= next_report:
                    _report(windows, sub.stats, time.monotonic() - start, args.interval)
                    next_report += args.interval * max(
                        1, int((time.monotonic() - next_report) // args.interval) + 1
                    )
        except KeyboardInterrupt:
            pass
        if any(w.messages for w in windows.values()):
            _report(windows, sub.stats, time.monotonic() - start, args.interval)
        elapsed = time.monotonic() - start
        lost = sum(sub.stats.lost.values())
    print(
        f"received {sum(totals.values())} messages from {len(totals)} stream(s) in {elapsed:.1f} s"
        f" ({lost} lost, {bad} bad)"
    )
    for stream in sorted(totals):
        print(f"  {stream}: {totals[stream]} messages")
    return 0


def _add(window: _Window, result: StreamResult) -> None:
    window.messages += 1
    window.total_ms.append(result.latency_ms["total"])
    if result.age_ms is not None:
        window.age_ms.append(result.age_ms)
    window.segments += len(result.segments)
    window.things += sum(seg.thing for seg in result.segments)
    window.dropped = result.dropped


def _report(windows: dict[str, _Window], stats: SubscriberStats, elapsed: float, interval: float) -> None:
    for stream in sorted(windows):
        w = windows[stream]
        if not w.messages:
            print(f"[{elapsed:7.1f} s] {stream}: no messages")
            continue
        print(
            f"[{elapsed:7.1f} s] {stream}: {w.messages / interval:6.1f} msg/s"
            f"  latency {_mean(w.total_ms):7.1f} ms (max {max(w.total_ms):7.1f})"
            f"  capture-to-here {_mean(w.age_ms):7.1f} ms"
            f"  segments {w.segments / w.messages:5.1f} ({w.things / w.messages:.1f} things)"
            f"  dropped {w.dropped}  lost {stats.lost.get(stream, 0)}"
        )
        windows[stream] = _Window()


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _save(folder: Path, result: StreamResult) -> None:
    from vkstream.data import colorize_depth, colorize_panoptic, write_png

    base = folder / result.stream / f"{result.seq:06d}"
    class_map = result.class_map
    semantic = class_map.astype("uint8") if int(class_map.max()) < 255 else None
    if semantic is not None:
        write_png(base.with_name(base.name + "_panoptic.png"), colorize_panoptic(semantic, result.track_map))
    write_png(base.with_name(base.name + "_depth.png"), colorize_depth(result.depth.astype("float32")))
