"""``vkstream eval``: score predictions against ground truth with STQ, DSTQ, VPQ and DVPQ."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vkstream.launch.argtypes import parse_number_list, require_at_least, require_split_name
from vkstream.launch.commands import add_command, show_progress
from vkstream.launch.commands._dataset_args import READ_LAYOUTS, check_dataset_root
from vkstream.launch.errors import UsageError

_EPILOG = """\
examples:
  vkstream eval --gt data/synth/val --pred runs/small/pred --split val
  vkstream eval --gt /datasets/kitti-step --pred out/ --split val --metrics stq,vpq --json scores.json
  vkstream eval --gt /datasets/semkitti-dvps --pred out/ --split val --metrics dvpq --workers 2

Predictions are read with the same readers as the ground truth, in any supported layout: a class
map and a track-id map per frame (panoptic_maps/ for KITTI-STEP, gtFine_class and gtFine_instance
PNGs for SemKITTI-DVPS) and, for DSTQ and DVPQ, a depth PNG. Scores print in percent; --json
writes them as fractions.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "eval",
        summary="score predictions with STQ, DSTQ, VPQ and DVPQ",
        description=(
            "Score predicted video panoptic segmentation and depth against ground truth, frame for "
            "frame, with the metrics of the KITTI-STEP and DVPS benchmarks, computed as their "
            "reference implementations do. Prints a table per sequence and in total."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("--gt", metavar="DIR", type=Path, required=True, help="ground-truth dataset root")
    parser.add_argument("--pred", metavar="DIR", type=Path, required=True, help="prediction dataset root")
    parser.add_argument(
        "--layout", default="auto", choices=READ_LAYOUTS[:-1], help="layout of both folders (default: detect)"
    )
    parser.add_argument("--split", default="train", help="split to score (default: %(default)s)")
    parser.add_argument(
        "--metrics",
        default="auto",
        help="comma-separated subset of stq,dstq,vpq,dvpq (default: stq,vpq, plus dstq,dvpq with depth)",
    )
    parser.add_argument("--json", metavar="OUT", type=Path, help="also write the scores to this JSON file")
    parser.add_argument(
        "--allow-missing", action="store_true", help="score a frame with no prediction as an empty prediction"
    )
    parser.add_argument(
        "--things", default=None, help="thing class ids for AQ and PQ-things (default: 11,13, person and car)"
    )
    parser.add_argument("--dq-thresholds", default="1.25,1.1", help="DSTQ depth ratio thresholds")
    parser.add_argument("--vpq-windows", default="1,2,3,4", help="VPQ window sizes in frames")
    parser.add_argument(
        "--dvpq-windows",
        default=None,
        help="DVPQ window sizes (default: 1,5,10,20 for semkitti-dvps, else 1,2,3,4)",
    )
    parser.add_argument("--dvpq-lambdas", default="0.5,0.25,0.1", help="DVPQ relative depth error thresholds")
    parser.add_argument(
        "--aq-pred-on-void",
        default="count",
        choices=("count", "ignore"),
        help="predicted thing pixels on ground-truth void: count them in AQ as deeplab2 does "
        "(default), or ignore them as ViP-DeepLab's DSTQ script does",
    )
    parser.add_argument(
        "--class-mean",
        choices=("present", "all"),
        default=None,
        help="classes VPQ and DVPQ average PQ over: those present (VPSNet's eval_vpq) or all, an absent "
        "class counting 0 (ViP-DeepLab's eval_dvpq) (default: each metric as its official script: "
        "present for VPQ, all for DVPQ)",
    )
    parser.add_argument(
        "--no-diagnostics",
        action="store_true",
        help="leave out the diagnostics (per-class IoU and PQ, AQ by track size, untracked thing "
        "pixels, id switches per track)",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes scoring sequences in parallel")
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    parser.set_defaults(handler=run)


def _evaluator_arguments(args: argparse.Namespace) -> dict[str, object]:
    from vkstream.eval import parse_metrics

    settings: dict[str, object] = {
        "dq_thresholds": parse_number_list(args.dq_thresholds, "--dq-thresholds"),
        "vpq_windows": parse_number_list(args.vpq_windows, "--vpq-windows", int),
        "dvpq_lambdas": parse_number_list(args.dvpq_lambdas, "--dvpq-lambdas"),
        "pred_on_void": args.aq_pred_on_void,
        "diagnostics": not args.no_diagnostics,
        "class_mean": args.class_mean,
    }
    if args.metrics != "auto":
        settings["metrics"] = parse_metrics(args.metrics)
    if args.dvpq_windows is not None:
        settings["dvpq_windows"] = parse_number_list(args.dvpq_windows, "--dvpq-windows", int)
    if args.things is not None:
        settings["thing_ids"] = parse_number_list(args.things, "--things", int)
    return settings


def run(args: argparse.Namespace) -> int:
    require_split_name(args.split)
    require_at_least(args.workers, 1, "--workers")
    for root in (args.gt, args.pred):
        check_dataset_root(root)
    if args.json is not None and args.json.is_dir():
        raise UsageError(f"--json {args.json} is a folder; give a file name")
    from tqdm import tqdm

    from vkstream.eval.folders import FolderPair, evaluate_folders

    layout = None if args.layout == "auto" else args.layout
    pair = FolderPair(
        args.gt,
        args.pred,
        split=args.split,
        gt_layout=layout,
        pred_layout=layout,
        allow_missing=args.allow_missing,
        evaluator=_evaluator_arguments(args),
    )
    with tqdm(
        desc="scoring", unit="frame", disable=not show_progress(args, disabled=args.no_progress)
    ) as bar:

        def start(frames: int) -> None:
            bar.total = frames
            bar.refresh()

        result = evaluate_folders(pair, workers=args.workers, progress=bar.update, on_start=start)
    print(result.format_table())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0
