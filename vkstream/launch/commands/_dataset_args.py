"""Arguments shared by the commands that read an existing dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from vkstream.launch.errors import UsageError

READ_LAYOUTS = ("auto", "kitti-step", "semkitti-dvps", "kitti-raw")


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """``--layout`` and ``--split``, shared by the commands that read a dataset."""
    parser.add_argument(
        "--layout", default="auto", choices=READ_LAYOUTS, help="dataset layout (default: detect it)"
    )
    parser.add_argument("--split", default="train", help="split to read (default: %(default)s)")


def check_dataset_root(root: Path) -> None:
    """Fail early with a plain message when the dataset folder itself is missing."""
    if not root.exists():
        raise UsageError(f"dataset folder not found: {root}")
    if not root.is_dir():
        raise UsageError(f"dataset path is not a folder: {root}")


def dataset_layout(args: argparse.Namespace) -> str | None:
    """The ``layout`` argument for ``open_dataset``: None lets it detect the layout."""
    return None if args.layout == "auto" else args.layout
