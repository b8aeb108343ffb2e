"""``vkstream export``: write a checkpoint's network stages as deployable artefacts per batch size."""

from __future__ import annotations

import argparse
from pathlib import Path

from vkstream.launch.argtypes import parse_number_list, parse_size
from vkstream.launch.commands import add_command
from vkstream.launch.errors import UsageError

FORMATS = ("exported", "aoti", "tensorrt")
DEVICES = ("cpu", "cuda")

_EPILOG = """\
examples:
  vkstream export checkpoints/synth_small.pt --out exports/synth_small --size 621x188 --batch-sizes 1,2
  vkstream export runs/r50/model.pt --out exports/r50-aoti --size 1248x384 --format aoti
  vkstream export runs/r50/model.pt --out exports/r50-trt --size 1248x384 --format tensorrt --device cuda
  vkstream predict --checkpoint exports/synth_small --data data/synth/test --split test --out pred

The directory holds one file per stage (backbone and neck, kernel head, depth head) and batch size,
and manifest.json with the model's config and label space. 'vkstream predict', 'vkstream run' and
'vkstream bench' take it wherever they take a checkpoint; frames must have the exported size, and a
batch runs padded to the next exported batch size.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "export",
        summary="export a checkpoint's stages (torch.export, AOTInductor or TensorRT) for deployment",
        description=(
            "Export each stage of a model checkpoint with torch.export for a fixed frame size and each "
            "batch size, as exported programs, as AOTInductor packages compiled to native code, or as "
            "TensorRT engines (needs the tensorrt extra and a CUDA GPU)."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("checkpoint", metavar="CHECKPOINT", type=Path, help="model checkpoint (.pt)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="export directory to write")
    parser.add_argument("--size", required=True, metavar="WxH", help="frame width x height, e.g. 1248x384")
    parser.add_argument(
        "--batch-sizes",
        default="1,2,4,8",
        metavar="LIST",
        help="batch sizes to export (default: %(default)s)",
    )
    parser.add_argument(
        "--format", default="exported", choices=FORMATS, help="artefact kind (default: exported)"
    )
    parser.add_argument(
        "--device", default="cpu", choices=DEVICES, help="device the artefacts run on (default: %(default)s)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    width, height = parse_size(args.size)
    batch_sizes = parse_number_list(args.batch_sizes, "--batch-sizes", int)
    if any(b < 1 for b in batch_sizes):
        raise UsageError(f"invalid --batch-sizes {args.batch_sizes}: batch sizes must be positive")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} exists and is not a folder")

    from vkstream.export import export_model
    from vkstream.models.device import resolve_device
    from vkstream.models.fold import fold_backbone
    from vkstream.train import load_model

    device = resolve_device(args.device)
    model, _config, metadata = load_model(args.checkpoint, device)
    fold_backbone(model.backbone_neck)  # as load_online runs checkpoints: same outputs
    source = {"checkpoint": str(args.checkpoint), "step": metadata.get("step")}
    manifest = export_model(
        model,
        metadata["label_space"],
        args.out,
        image_size=(height, width),
        batch_sizes=batch_sizes,
        fmt=args.format,
        source=source,
        progress=print,
    )
    print(
        f"exported {len(manifest.batch_sizes) * 3} stage files ({args.format}, {width}x{height}, batches "
        f"{','.join(str(b) for b in manifest.batch_sizes)}) to {args.out}"
    )
    return 0
