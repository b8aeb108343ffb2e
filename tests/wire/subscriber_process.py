"""A subscriber run as a separate process by the tests: receives, then pickles what it got.

python subscriber_process.py ENDPOINT OUT.pkl [--streams ...] [--delay S] [--keys DIR --client NAME]
    [--stall S] [--idle S] [--rcvhwm N]
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

from vkstream.client import CurveClientKeys, Subscriber


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("out", type=Path)
    parser.add_argument("--streams", nargs="+")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds of 'work' per message")
    parser.add_argument("--stall", type=float, default=0.0, help="seconds of 'work' after the first message")
    parser.add_argument("--idle", type=float, default=2.0, help="stop after this long without a message")
    parser.add_argument("--rcvhwm", type=int, default=16)
    parser.add_argument("--keys", type=Path)
    parser.add_argument("--client", default="client")
    args = parser.parse_args()
    curve = None if args.keys is None else CurveClientKeys.from_dir(args.keys, args.client)
    results = []
    with Subscriber(args.endpoint, args.streams, curve=curve, rcvhwm=args.rcvhwm) as sub:
        while (result := sub.receive(timeout=args.idle)) is not None:
            results.append(result)
            time.sleep(args.delay + (args.stall if len(results) == 1 else 0.0))
        stats = {"lost": dict(sub.stats.lost), "received": dict(sub.stats.received)}
    args.out.write_bytes(pickle.dumps({"results": results, "stats": stats}))


if __name__ == "__main__":
    main()
