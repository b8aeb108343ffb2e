"""``vkstream synth``: render a synthetic driving dataset in a KITTI layout."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from vkstream.launch.argtypes import parse_size, require_at_least, require_png, require_split_name
from vkstream.launch.commands import add_command, show_progress

LAYOUTS = ("kitti-step", "semkitti-dvps")
"""Layouts the generator writes; raw KITTI has no labels, so it is read-only."""

log = logging.getLogger(__name__)

_EPILOG = """\
examples:
  vkstream synth data/demo --layout semkitti-dvps --sequences 2 --frames 20 --size 621x188 --seed 7
  vkstream synth data/city --layout kitti-step --sequences 10 --frames 100 --size 1242x375 --seed 0 \\
      --config configs/synth/city.yaml --preview data/city/preview.png

The same arguments and seed always produce the same dataset. 'vkstream config show synth' lists
every key a --config file may set.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "synth",
        summary="render a synthetic driving dataset with labels and depth",
        description=(
            "Render sequences of a procedurally generated 3D street scene with panoptic labels, "
            "metric depth and camera intrinsics, written in a KITTI dataset layout that every "
            "vkstream dataset reader accepts."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("out", metavar="OUT", type=Path, help="dataset folder to write (created if missing)")
    parser.add_argument("--layout", required=True, choices=LAYOUTS, help="dataset layout to write")
    parser.add_argument("--sequences", required=True, type=int, metavar="N", help="number of sequences")
    parser.add_argument("--frames", required=True, type=int, metavar="F", help="frames per sequence")
    parser.add_argument(
        "--size", required=True, metavar="WxH", help="image width x height in pixels, e.g. 1242x375"
    )
    parser.add_argument("--seed", required=True, type=int, metavar="S", help="random seed (>= 0)")
    parser.add_argument("--split", default="train", help="split to write (default: %(default)s)")
    parser.add_argument("--config", type=Path, metavar="YAML", help="world parameters (default: built-in)")
    parser.add_argument(
        "--min-instance-height",
        type=float,
        metavar="PX",
        help="label cars and people whose visible box is shorter than PX rows at 375 image rows (scaled "
        "with the height) as crowd, as KITTI does; 0 tracks every visible object "
        "(default: the config's labels.min_instance_height_px, 25)",
    )
    parser.add_argument("--preview", type=Path, metavar="PNG", help="also write a preview strip to PNG")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="render sequences in N processes (same files whatever N; default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    size = parse_size(args.size)
    require_at_least(args.sequences, 1, "--sequences")
    require_at_least(args.frames, 1, "--frames")
    require_at_least(args.seed, 0, "--seed")
    require_split_name(args.split)
    require_at_least(args.workers, 1, "--workers")
    if args.preview is not None:
        require_png(args.preview, "--preview")

    from vkstream.launch.config import load_config
    from vkstream.synth import SynthConfig, generate_dataset

    config = load_config(args.config, SynthConfig) if args.config is not None else SynthConfig()
    if args.min_instance_height is not None:
        require_at_least(args.min_instance_height, 0, "--min-instance-height")
        labels = config.labels.model_copy(update={"min_instance_height_px": args.min_instance_height})
        config = config.model_copy(update={"labels": labels})
    log.debug("rendering %s into %s", args.layout, args.out)
    report = generate_dataset(
        args.out,
        layout=args.layout,
        sequences=args.sequences,
        frames=args.frames,
        size=size,
        seed=args.seed,
        split=args.split,
        config=config,
        preview=args.preview,
        progress=show_progress(args, disabled=args.no_progress),
        workers=args.workers,
    )
    print(report.format())
    return 0
