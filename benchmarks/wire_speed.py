"""Cost of publishing one result at KITTI resolution, per codec.

    python benchmarks/wire_speed.py [--size 1242x375] [--frames 20] [--repeat 3] [--json OUT]

Pins the process to one core (the lowest it may use; pick it with ``taskset -c N``). Renders frames
of the synthetic world (realistic panoptic and depth content), times measuring the segment list from
the maps alone (what producers without a segment table, such as ground-truth replays, cost), then
for each codec times the publisher's per-message work as its sender thread does it for a model's
result, which brings its own segment table: the wire panoptic map, the segment list from the table,
encoding the arrays and the msgpack map, and sending on a ZeroMQ XPUB socket with one subscriber on
127.0.0.1. Also times ``publish()`` itself (the caller's cost) and the subscriber's decode. Prints
median and p90 milliseconds and the bytes per message.
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
from vkstream.data import CITYSCAPES
from vkstream.nodes.publisher import Publisher, PublisherConfig, _Pending
from vkstream.synth import SequenceRenderer
from vkstream.wire import FrameOutput, Panoptic, SegmentStats, checked_output, derive_segments, panoptic_map


def _frames(size: tuple[int, int], count: int) -> list[FrameOutput]:
    renderer = SequenceRenderer(0, 0, count, size)
    outputs = []
    for index in range(count):
        frame = renderer.render(index)
        assert frame.semantic is not None and frame.instance is not None and frame.depth is not None
        semantic = np.where(frame.semantic == 255, 0, frame.semantic).astype(np.uint8)  # no void in outputs
        depth16 = frame.depth.astype(np.float16)
        segments = derive_segments(panoptic_map(semantic, frame.instance), depth16, CITYSCAPES.things)
        table = tuple(  # a model's table: the same figures, measured on its device
            SegmentStats(s.class_id, s.track, 0.9, s.area, s.bbox, s.depth_m, _centre(s.bbox))
            for s in segments
        )
        outputs.append(
            FrameOutput(
                stream="front",
                seq=index,
                stamp_ns=time.time_ns(),
                panoptic=Panoptic(semantic, frame.instance.astype(np.int32), CITYSCAPES, table),
                depth=frame.depth,
                intrinsics=frame.intrinsics,
                latency_ms={"backbone": 20.0},
            )
        )
    return outputs


def _centre(bbox: tuple[int, int, int, int]) -> tuple[float, float]:
    return ((bbox[0] + bbox[2] - 1) / 2, (bbox[1] + bbox[3] - 1) / 2)


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
    segments = np.mean([len(f.panoptic.segments or ()) for f in frames])
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
        panoptic = panoptic_map(frame.panoptic.classes, frame.panoptic.tracks)
        t = time.perf_counter()
        derive_segments(panoptic, checked_depth, CITYSCAPES.things, None, frame.intrinsics)
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
                    checked = checked_output(output)  # what publish() does in the caller's thread
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
    print(f"mean segments per frame: {report['segments_per_frame']}; things: {list(CITYSCAPES.thing_ids)}")
    seg = report["derive_segments"]
    print(
        f"measuring the segment list from the maps (producers without a table): {seg['median_ms']} ms "
        f"median, {seg['p90_ms']} ms p90"
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
