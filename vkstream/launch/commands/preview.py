"""``vkstream preview``: a PNG strip of image, panoptic labels and depth for a few frames of a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from vkstream.launch.argtypes import parse_index_list, require_in_range, require_png, require_split_name
from vkstream.launch.commands import add_command
from vkstream.launch.commands._dataset_args import add_dataset_options, check_dataset_root, dataset_layout
from vkstream.launch.errors import UsageError

if TYPE_CHECKING:
    from vkstream.data import Frame, SequenceDataset

DEFAULT_FRAME_COUNT = 4
DEFAULT_MAX_STEP = 10
"""Frames between default picks at most: about a second of driving, and few frames to read."""
MAX_SCALE = 4.0

_EPILOG = """\
examples:
  vkstream preview data/demo --out preview.png
  vkstream preview data/demo --out seq1.png --sequence 0001 --frames 0,5,10 --scale 0.5

Without --frames, four frames are shown: spread over the sequence, at most 10 frames apart.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "preview",
        summary="write a PNG strip of frames with their labels and depth",
        description=(
            "Render chosen frames of one sequence side by side with their panoptic labels and depth "
            "into a single PNG, to eyeball a dataset or a conversion at a glance."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("root", metavar="DIR", type=Path, help="dataset root folder")
    parser.add_argument("--out", required=True, type=Path, metavar="PNG", help="PNG file to write")
    add_dataset_options(parser)
    parser.add_argument(
        "--sequence", metavar="NAME", help="sequence to show; 3 also finds 0003 (default: the first)"
    )
    parser.add_argument(
        "--frames",
        metavar="LIST",
        help="frame numbers as in the file names, e.g. 0,5,10 (default: 4 frames from the start)",
    )
    parser.add_argument(
        "--scale", type=float, default=0.5, help="resize factor of each frame (default: %(default)s)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    wanted = parse_index_list(args.frames) if args.frames is not None else None
    require_in_range(args.scale, 0.0, MAX_SCALE, "--scale")
    require_png(args.out, "--out")
    require_split_name(args.split)
    check_dataset_root(args.root)

    from vkstream.data import open_dataset, preview_strip, write_png

    dataset = open_dataset(args.root, layout=dataset_layout(args), split=args.split)
    sequence = _pick_sequence(dataset, args.sequence)
    frames = select_frames(dataset, sequence, wanted)
    write_png(args.out, preview_strip(frames, args.scale))
    shown = ",".join(str(frame.index) for frame in frames)
    print(f"wrote {args.out} (sequence {sequence}, frames {shown})")
    return 0


def _pick_sequence(dataset: SequenceDataset, name: str | None) -> str:
    """The sequence called ``name``; a number also matches its zero-padded form ("3" finds "0003")."""
    if name is None:
        return dataset.sequences[0]
    if name in dataset.sequences:
        return name
    if _is_number(name):
        numbered = [seq for seq in dataset.sequences if _is_number(seq) and int(seq) == int(name)]
        if len(numbered) == 1:
            return numbered[0]
    raise UsageError(f"no sequence '{name}' in {dataset.root} (found: {_listing(dataset.sequences)})")


def select_frames(dataset: SequenceDataset, sequence: str, wanted: list[int] | None) -> list[Frame]:
    """The frames numbered ``wanted`` in that order, or by default a few from the start on.

    Frames are read in order and reading stops after the last one needed.
    """
    count = dataset.num_frames(sequence)
    if wanted is None:
        positions = default_positions(count, DEFAULT_FRAME_COUNT)
        last = max(positions)
        picked = []
        for position, frame in enumerate(dataset.frames(sequence)):
            if position in positions:
                picked.append(frame)
            if position >= last:
                break
        return picked
    found: dict[int, Frame] = {}
    for frame in dataset.frames(sequence):
        if frame.index in wanted:
            found[frame.index] = frame
            if len(found) == len(wanted):
                break
    missing = [index for index in wanted if index not in found]
    if missing:
        raise UsageError(
            f"sequence {sequence} has no frame {_listing([str(i) for i in missing])} "
            f"({count} frames; use numbers as in the file names)"
        )
    return [found[index] for index in wanted]


def default_positions(count: int, n: int) -> set[int]:
    """Positions of up to ``n`` frames from the start, evenly spaced and at most DEFAULT_MAX_STEP apart.

    Frames can only be read in order, so the step is capped to keep a long sequence's preview quick.
    """
    if count <= n:
        return set(range(count))
    step = min(DEFAULT_MAX_STEP, (count - 1) // (n - 1))
    return {i * step for i in range(n)}


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _listing(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")
