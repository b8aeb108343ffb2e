"""``vkstream scan``: check every file of a dataset before training or replaying it."""

from __future__ import annotations

import argparse
from pathlib import Path

from vkstream.launch.argtypes import require_split_name
from vkstream.launch.commands import add_command
from vkstream.launch.commands._dataset_args import add_dataset_options, check_dataset_root, dataset_layout

_EPILOG = """\
examples:
  vkstream scan data/demo
  vkstream scan /datasets/kitti-step --layout kitti-step --split val

The first bad file stops the scan with an error naming it (exit code 2).
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "scan",
        summary="validate every file of a dataset and summarise it",
        description=(
            "Read every image, label, depth map and calibration file of a KITTI-STEP, SemKITTI-DVPS "
            "or raw KITTI dataset, and print its sequences, frame counts, sizes and classes. A "
            "truncated or mislabelled file is reported by name before it can break a long run."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("root", metavar="DIR", type=Path, help="dataset root folder")
    add_dataset_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    require_split_name(args.split)
    check_dataset_root(args.root)
    from vkstream.data import open_dataset

    dataset = open_dataset(args.root, layout=dataset_layout(args), split=args.split)
    print(dataset.scan().format())
    return 0
