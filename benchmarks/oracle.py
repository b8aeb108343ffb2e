"""The ceiling of a model's scores: ground truth sampled on the model's mask grid, then upsampled.

    python benchmarks/oracle.py DATA [--split test] [--stride 4] [--layout auto] [--json OUT]

Scores every frame of DATA's split as ``vkstream eval`` would score a prediction, where the
"prediction" is the ground truth held on a stride-N grid (vkstream.eval.oracle): what a perfect
model whose masks live on that grid reaches. Prints the table with the diagnostics; --json writes it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from vkstream.data.datasets import open_dataset
from vkstream.eval import DVPQ_WINDOWS_BY_LAYOUT, EvalResult, Evaluator
from vkstream.eval.oracle import on_mask_grid


def score_oracle(root: Path, split: str, stride: int, layout: str | None = None) -> EvalResult:
    dataset = open_dataset(root, layout=layout, split=split, read_images=False)
    first = next(dataset.frames(dataset.sequences[0]))
    metrics = ("stq", "dstq", "vpq", "dvpq") if first.depth is not None else ("stq", "vpq")
    evaluator = Evaluator(
        metrics, dvpq_windows=DVPQ_WINDOWS_BY_LAYOUT.get(dataset.layout, (1, 2, 3, 4)), diagnostics=True
    )
    for sequence in tqdm(dataset.sequences, desc=f"oracle stride {stride}", unit="sequence"):
        for frame in dataset.frames(sequence):
            evaluator.update(frame, on_mask_grid(frame, stride))
    return evaluator.result()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path, help="labelled dataset root (KITTI-STEP or SemKITTI-DVPS)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--stride", type=int, default=4, help="the model's mask stride (default 4)")
    parser.add_argument("--layout", default=None, help="dataset layout (default: detect)")
    parser.add_argument("--json", type=Path, help="write the scores as JSON")
    args = parser.parse_args()
    result = score_oracle(args.data, args.split, args.stride, args.layout)
    print(f"oracle: ground truth on a stride-{args.stride} grid, {args.data} split {args.split}")
    print(result.format_table())
    if args.json:
        payload = {"stride": args.stride, "data": str(args.data), "split": args.split, **result.to_json()}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
