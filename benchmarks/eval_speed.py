"""Update speed of the streaming metrics on one CPU core, at KITTI resolution.

    python benchmarks/eval_speed.py [--size 1242x375] [--frames 60] [--json OUT]

Renders a sequence of the synthetic world as ground truth (about 30 segments per frame: stuff,
cars, pedestrians, void-free dense depth) and makes a plausible prediction from it: labels shifted
by two pixels, track ids renumbered into 1-4095 (as a long-running tracker's), one track switched
half-way, depth with 8 % noise. Pins the
process to one core, then times ``Evaluator.update`` per frame for STQ+DSTQ, for VPQ and DVPQ at
each window size alone, and for everything at once. Prints frames/s and per-frame milliseconds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from timing import machine, pin_to_one_core, timing_stats

from vkstream.data import Frame
from vkstream.eval import Evaluator
from vkstream.synth import SequenceRenderer

WINDOWS = (1, 2, 3, 4)


def make_pairs(size: tuple[int, int], frames: int, seed: int = 3) -> list[tuple[Frame, Frame]]:
    renderer = SequenceRenderer(seed, 0, frames, size)
    rng = np.random.default_rng(seed)
    relabel = np.zeros(65536, dtype=np.uint16)
    relabel[1:4096] = rng.permutation(np.arange(1, 4096))
    pairs = []
    for index in range(frames):
        truth = renderer.render(index)
        truth.image = None
        assert truth.semantic is not None and truth.instance is not None and truth.depth is not None
        semantic = np.roll(truth.semantic, 2, axis=1)
        semantic[semantic == 255] = 0
        instance = relabel[np.roll(truth.instance, 2, axis=1)]
        if index >= frames // 2:
            instance[instance == instance.max()] = 4000  # one track switches id half-way
        depth = truth.depth * rng.normal(1.0, 0.08, truth.depth.shape).astype(np.float32)
        pairs.append((truth, Frame(truth.sequence, index, truth.timestamp, None, semantic, instance, depth)))
    return pairs


def time_updates(pairs: list[tuple[Frame, Frame]], **settings: object) -> dict[str, float]:
    evaluator = Evaluator(**settings)  # type: ignore[arg-type]
    evaluator.update(*pairs[0], sequence_id="warm-up")
    seconds = []
    for gt, pred in pairs:
        start = time.perf_counter()
        evaluator.update(gt, pred)
        seconds.append(time.perf_counter() - start)
    return timing_stats(seconds, digits=2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="1242x375", help="WxH")
    parser.add_argument("--frames", type=int, default=60, help="frames in the timed sequence")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    pairs = make_pairs((width, height), args.frames)
    pinning = pin_to_one_core()
    segments = np.mean(
        [len(np.unique(gt.semantic.astype(np.int64) * 65536 + gt.instance)) for gt, _ in pairs]  # type: ignore[union-attr]
    )
    cases: dict[str, dict[str, object]] = {"stq+dstq": {"metrics": ("stq", "dstq")}}
    for k in WINDOWS:
        cases[f"vpq k={k}"] = {"metrics": ("vpq",), "vpq_windows": (k,)}
    for k in WINDOWS:
        cases[f"dvpq k={k} (3 lambdas)"] = {"metrics": ("dvpq",), "dvpq_windows": (k,)}
    cases["all: stq,dstq,vpq k=1-4,dvpq k=1-4"] = {"metrics": ("stq", "dstq", "vpq", "dvpq")}
    results = {name: time_updates(pairs, **settings) for name, settings in cases.items()}
    where = machine(pinning)
    print(f"metric updates at {width}x{height}, {args.frames} frames, {segments:.0f} segments/frame, {where}")
    print(f"{'metrics':<38} {'frames/s':>9} {'median ms':>10} {'p90 ms':>8}")
    for name, r in results.items():
        print(f"{name:<38} {r['fps']:>9} {r['median_ms']:>10} {r['p90_ms']:>8}")
    if args.json:
        report = {
            "size": f"{width}x{height}",
            "frames": args.frames,
            "segments_per_frame": round(float(segments), 1),
        }
        args.json.write_text(json.dumps({**report, "machine": where, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
