"""``vkstream predict``: run a checkpoint over a dataset and write the predictions as a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from vkstream.launch.argtypes import require_at_least, require_split_name
from vkstream.launch.commands import add_command, show_progress
from vkstream.launch.commands._dataset_args import add_dataset_options, check_dataset_root, dataset_layout
from vkstream.launch.errors import UsageError

OUT_LAYOUTS = ("same", "kitti-step", "semkitti-dvps")
ASSOCIATIONS = ("embedding", "mask_iou")
DEVICES = ("auto", "cpu", "cuda")

_EPILOG = """\
examples:
  vkstream predict --checkpoint runs/synth_small/model.pt --data data/synth/val --split val \
      --out runs/synth_small/pred-val
  vkstream eval --gt data/synth/val --pred runs/synth_small/pred-val --split val
  vkstream predict --checkpoint runs/r50/model.pt --data /datasets/kitti-step --split val \\
      --out runs/r50-val --association mask_iou

Each sequence is one stream, run frame by frame in order with its state carried, exactly as the
runtime runs a camera. Predicted instance ids are track ids; depth is written in metres.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "predict",
        summary="write a model's predictions for a dataset, ready for evaluation",
        description=(
            "Run a checkpoint over every sequence of a KITTI-STEP, SemKITTI-DVPS or raw KITTI split and "
            "write panoptic labels with track ids and depth in a labelled KITTI layout."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument(
        "--checkpoint", required=True, type=Path, metavar="CKPT", help="checkpoint file or export directory"
    )
    parser.add_argument("--data", required=True, type=Path, metavar="DIR", help="dataset root folder")
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="folder to write predictions to"
    )
    add_dataset_options(parser)
    parser.add_argument(
        "--out-layout",
        default="same",
        choices=OUT_LAYOUTS,
        help="layout to write (default: the input's; kitti-step for raw KITTI)",
    )
    parser.add_argument(
        "--sequence", action="append", metavar="NAME", help="sequence to predict (repeatable; default: all)"
    )
    parser.add_argument(
        "--association",
        choices=ASSOCIATIONS,
        help="tracker association: learned embeddings, or mask IoU to the last frame (default: as trained)",
    )
    parser.add_argument("--device", default="auto", choices=DEVICES, help="default: CUDA when available")
    parser.add_argument(
        "--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    require_split_name(args.split)
    if args.threads is not None:
        require_at_least(args.threads, 1, "--threads")
    check_dataset_root(args.data)
    if not args.checkpoint.exists():
        raise UsageError(f"checkpoint not found: {args.checkpoint}")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} exists and is not a folder")

    from vkstream.train import predict_dataset

    report = predict_dataset(
        args.checkpoint,
        args.data,
        args.out,
        layout=dataset_layout(args),
        split=args.split,
        out_layout=None if args.out_layout == "same" else args.out_layout,
        association=args.association,
        sequences=args.sequence,
        device=args.device,
        threads=args.threads,
        progress=show_progress(args, disabled=args.no_progress),
    )
    print(report.format())
    return 0
