"""Where one online step of the model spends its time, stage by stage, on this machine.

    python benchmarks/step_speed.py [--checkpoint checkpoints/synth_small.pt] [--size 621x188]
        [--frames 40] [--threads 2] [--channels-last] [--json OUT]

Loads the checkpoint as the product runs it (``load_online``: batch norms folded into their
convolutions; ``--channels-last`` as the shipped pipeline configs run the backbone), replays one
synthetic sequence as one stream through the ``OnlineVideoKNet`` and times, per frame, the
backbone and neck alone (both feature branches), then the neck's mask branch, the kernel head, the
panoptic merge and the tracker (``segment``), then the neck's depth branch, the depth head, the
depth assembly and the segment table (``estimate_depth``), all in one process with the same torch
threads. Prints median milliseconds per stage and the whole step as a
multiple of the backbone and neck (what post-processing costs on top of the network): the median
over frames of each frame's step over the same frame's backbone and neck, measured back to back, so
that the drift of a shared machine's speed between frames cancels out of the ratio.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from timing import machine

from vkstream.models.options import StageOptions
from vkstream.synth import SequenceRenderer
from vkstream.train.checkpoint import load_online


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", type=Path, default=Path("checkpoints/synth_small.pt"))
    parser.add_argument("--size", default="621x188")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--channels-last", action="store_true", help="NHWC backbone and neck")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    torch.set_num_threads(args.threads)
    backbone_options = StageOptions(channels_last=args.channels_last)
    online, _cfg, _ = load_online(
        args.checkpoint, torch.device("cpu"), options={"backbone_neck": backbone_options}
    )
    # The network's backbone and neck, both feature branches (each runs in the head stage that reads
    # it, see vkstream.models.stage_modules): what the step's post-processing is measured against.
    neck = online.model.backbone_neck
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format

    def backbone_neck(image: torch.Tensor) -> None:
        neck(image.contiguous(memory_format=memory_format))

    renderer = SequenceRenderer(7, 0, args.frames, (width, height))
    images = [
        torch.from_numpy(renderer.render(i).image).permute(2, 0, 1)[None].float().div(255.0)
        for i in range(args.frames)
    ]
    times: dict[str, list[float]] = {"backbone_neck": [], "segment": [], "estimate_depth": [], "step": []}
    state = None
    with torch.inference_mode():
        for warm_up in (True, False):
            for image in images[: 5 if warm_up else None]:
                t0 = time.perf_counter()
                backbone_neck(image)
                t1 = time.perf_counter()
                encoded = online.encode(image)
                t2 = time.perf_counter()
                segmented = online.segment(encoded, [state])
                t3 = time.perf_counter()
                online.estimate_depth(encoded, segmented)
                t4 = time.perf_counter()
                state = segmented.new_states[0]
                if not warm_up:
                    times["backbone_neck"].append(t1 - t0)
                    times["segment"].append(t3 - t2)
                    times["estimate_depth"].append(t4 - t3)
                    times["step"].append((t2 - t1) + (t4 - t2))
    median = {k: round(float(np.median(v)) * 1000, 2) for k, v in times.items()}
    ratio = float(np.median(np.array(times["step"]) / np.array(times["backbone_neck"])))
    report = {
        "machine": machine(f"{args.threads} torch threads"),
        "checkpoint": str(args.checkpoint),
        "channels_last": args.channels_last,
        "size": args.size,
        "frames": args.frames,
        "median_ms": median,
        "step_over_backbone_neck": round(ratio, 2),
    }
    print(f"{report['machine']}; {args.checkpoint} at {args.size}, {args.frames} frames, one stream")
    for name, ms in median.items():
        print(f"  {name:<15} {ms:8.1f} ms")
    print(f"  whole step = {ratio:.2f} x backbone+neck")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
