"""``vkstream preview``: a PNG strip of image, panoptic labels and depth for a few frames of a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from vkstream.launch.argtypes import parse_index_list, require_in_range, require_png, require_split_name
from vkstream.launch.commands import add_command
from vkstream.launch.commands._dataset_args import add_dataset_options, check_dataset_root, dataset_layout

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
    from vkstream.data.pick import pick_sequence, select_frames

    dataset = open_dataset(args.root, layout=dataset_layout(args), split=args.split)
    sequence = pick_sequence(dataset, args.sequence)
    frames = select_frames(dataset, sequence, wanted)
    write_png(args.out, preview_strip(frames, args.scale))
    shown = ",".join(str(frame.index) for frame in frames)
    print(f"wrote {args.out} (sequence {sequence}, frames {shown})")
    return 0
