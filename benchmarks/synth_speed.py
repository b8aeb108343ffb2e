"""Render speed of the synthetic world on one CPU core.

    python benchmarks/synth_speed.py [--size 1242x375] [--frames 100] [--seeds 0,1,2] [--json OUT]

Pins the process to one core, warms the compiled kernels up, then times (a) rendering alone
(image, labels, depth) and (b) rendering plus encoding the four PNGs of a SemKITTI-DVPS frame
in the same thread. Prints frames/s and per-frame milliseconds (median and p90) for each.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
from timing import machine, pin_to_one_core, timing_stats

from vkstream.data import make_writer
from vkstream.synth import SequenceRenderer


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="1242x375", help="WxH")
    parser.add_argument("--frames", type=int, default=100, help="frames per seed")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, one sequence each")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    seeds = [int(s) for s in args.seeds.split(",")]
    pinning = pin_to_one_core()
    cv2.setNumThreads(1)

    render_times: list[float] = []
    with_png_times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        writer = make_writer("semkitti-dvps", tmp)
        for seed in seeds:
            renderer = SequenceRenderer(seed, 0, args.frames, (width, height))
            renderer.render(0)  # load or compile the kernels before timing
            for index in range(args.frames):
                start = time.perf_counter()
                frame = renderer.render(index)
                rendered = time.perf_counter()
                writer.write(frame)
                render_times.append(rendered - start)
                with_png_times.append(time.perf_counter() - start)

    result = {
        "size": f"{width}x{height}",
        "frames": len(render_times),
        "machine": machine(pinning),
        "render": timing_stats(render_times),
        "render_and_write_png": timing_stats(with_png_times),
    }
    print(f"synthetic world at {result['size']}, {result['frames']} frames, {result['machine']}")
    for key in ("render", "render_and_write_png"):
        s = result[key]
        print(
            f"  {key:22s} {s['fps']:6.1f} frames/s"
            f"   median {s['median_ms']:6.1f} ms   p90 {s['p90_ms']:6.1f} ms"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
