"""Cost of publishing one result at KITTI resolution, per codec.

    python benchmarks/wire_speed.py [--size 1242x375] [--frames 20] [--repeat 3] [--json OUT]

Pins the process to one core (the lowest it may use; pick it with ``taskset -c N``). Renders frames
of the synthetic world (realistic panoptic and depth content), times deriving the segment list
alone, then for each codec times the publisher's per-message work as its sender thread does it:
deriving the segment list, encoding the arrays and the msgpack map, and sending on a ZeroMQ XPUB
socket with one subscriber on 127.0.0.1. Also times ``publish()`` itself (the caller's cost) and the
subscriber's decode. Prints median and p90 milliseconds and the bytes per message.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import zmq
from timing import machine, pin_to_one_core, timing_stats

from vkstream.client import CODECS, decode_message
from vkstream.data import THING_IDS
from vkstream.nodes.publisher import FrameOutput, Publisher, PublisherConfig, _Pending, panoptic_from_labels
from vkstream.nodes.segments import derive_segments
from vkstream.synth import SequenceRenderer


def _frames(size: tuple[int, int], count: int) -> list[FrameOutput]:
    renderer = SequenceRenderer(0, 0, count, size)
    outputs = []
    for index in range(count):
        frame = renderer.render(index)
        assert frame.semantic is not None and frame.instance is not None and frame.depth is not None
        semantic = np.where(frame.semantic == 255, 0, frame.semantic).astype(np.uint8)  # no void in outputs
        panoptic = panoptic_from_labels(semantic, frame.instance)
        ids = np.unique(panoptic)
        outputs.append(
            FrameOutput(
                stream="front",
                seq=index,
                stamp_ns=time.time_ns(),
                panoptic=panoptic,
                depth=frame.depth,
                scores={int(i): 0.9 for i in ids},
                intrinsics=frame.intrinsics,
                latency_ms={"backbone": 20.0},
            )
        )
    return outputs


def _ms(seconds: list[float]) -> dict[str, float]:
    return timing_stats(seconds, digits=2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="1242x375", help="WxH")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the frames per codec")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    pinning = pin_to_one_core()
    width, height = (int(v) for v in args.size.lower().split("x"))
    frames = _frames((width, height), args.frames)
    segments = np.mean([len(np.unique(f.panoptic)) for f in frames])
    report = {
        "size": f"{width}x{height}",
        "frames": args.frames * args.repeat,
        "segments_per_frame": round(float(segments), 1),
        "machine": machine(pinning),
        "codecs": {},
    }
    seg_times = []
    for frame in frames * args.repeat:
        checked_depth = frame.depth.astype(np.float16)
        t = time.perf_counter()
        derive_segments(frame.panoptic, checked_depth, THING_IDS, frame.scores, frame.intrinsics)
        seg_times.append(time.perf_counter() - t)
    report["derive_segments"] = _ms(seg_times)
    for codec in CODECS:
        with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", codec=codec, sndhwm=1000)) as publisher:
            sub = zmq.Context.instance().socket(zmq.SUB)
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            sub.connect(publisher.endpoint)
            assert publisher.wait_for_subscriptions(1, timeout=10)
            encode_send, publish_call, decode, sizes = [], [], [], []
            seq = 0
            for _ in range(args.repeat):
                for frame in frames:
                    output = FrameOutput(**{**frame.__dict__, "seq": seq, "stamp_ns": time.time_ns()})
                    seq += 1
                    t0 = time.perf_counter()
                    checked = publisher._checked(output)  # what publish() does in the caller's thread
                    t1 = time.perf_counter()
                    # what the sender thread does per message:
                    message = publisher._encode(_Pending(checked, time.time_ns(), seq), 0)
                    publisher._socket.send_multipart(message, copy=False)
                    t2 = time.perf_counter()
                    received = sub.recv_multipart()
                    t3 = time.perf_counter()
                    decode_message(received)
                    t4 = time.perf_counter()
                    publish_call.append(t1 - t0)
                    encode_send.append(t2 - t1)
                    decode.append(t4 - t3)
                    sizes.append(len(message[1]))
            sub.close(linger=0)
        report["codecs"][codec] = {
            "encode_and_send": _ms(encode_send),
            "publish_call": _ms(publish_call),
            "decode": _ms(decode),
            "bytes_median": int(np.median(sizes)),
        }
    print(f"wire format at {report['size']}, {report['frames']} messages per codec, {report['machine']}")
    print(f"mean segments per frame: {report['segments_per_frame']}; things: {sorted(THING_IDS)}")
    seg = report["derive_segments"]
    print(
        f"deriving the segment list (part of every codec's encode+send): {seg['median_ms']} ms median, "
        f"{seg['p90_ms']} ms p90"
    )
    header = f"{'codec':6s} {'encode+send ms (median/p90)':>28s} {'publish() ms':>13s} {'decode ms':>10s}"
    print(f"{header} {'bytes':>10s}")
    for codec, r in report["codecs"].items():
        es, pc, de = r["encode_and_send"], r["publish_call"], r["decode"]
        print(
            f"{codec:6s} {es['median_ms']:13.2f} / {es['p90_ms']:6.2f}      {pc['median_ms']:13.2f}"
            f" {de['median_ms']:10.2f} {r['bytes_median']:10d}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
