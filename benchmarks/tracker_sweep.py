"""Tracker settings against each other on one labelled split, with the network run once.

    python benchmarks/tracker_sweep.py DATA --split val [--checkpoint checkpoints/synth_small.pt]
        [--set association=mask_iou] [--set tracker.iou_first=0.5,tracker.cascade=true] ...
        [--max-frames N] [--threads 2] [--json OUT] [--write BEST.pt]

Tracker settings change no weight, so the network's outputs (kernels, masks, classes, embeddings and
the panoptic merge) are computed once per frame, kept in memory, and only the tracker runs again for
each setting. Each ``--set`` is one setting to score: comma-separated ``key=value`` overrides of the
checkpoint's model config (``association`` or ``tracker.*``); the checkpoint's own settings are
always scored first. Prints STQ, AQ and SQ per setting, with the id switches per track; ``--write``
saves the checkpoint again with the setting of the best AQ (weights unchanged). Tune on a split that
is neither trained on nor used for the final scores.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import torch
import yaml
from pydantic import ValidationError
from tqdm import tqdm

from vkstream.data import Frame, open_dataset
from vkstream.eval import Evaluator
from vkstream.models import ModelConfig, OnlineVideoKNet
from vkstream.models.panoptic import merge_segments
from vkstream.models.tracker import Detections, TrackMemory, track
from vkstream.train.checkpoint import RUNTIME_KEYS, export_checkpoint, load_model
from vkstream.train.pairs import image_tensor
from vkstream.wire import wrap_track_ids


@dataclass
class CachedFrame:
    """What the tracker and the scoring need of one frame, on the host."""

    gt: Frame
    slot: torch.Tensor
    semantic: torch.Tensor
    detections: Detections


def parse_setting(text: str) -> dict[str, object]:
    """'association=mask_iou,tracker.cascade=true' -> nested overrides (values parsed as YAML)."""
    overrides: dict[str, object] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {text!r}: expected key=value pairs separated by commas")
        *parents, leaf = key.strip().split(".")
        node = overrides
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[leaf] = yaml.safe_load(value)
    return overrides


def with_overrides(cfg: ModelConfig, overrides: dict[str, object]) -> ModelConfig:
    """``cfg`` with runtime settings changed; anything that would change a weight is refused."""
    other = sorted(set(overrides) - set(RUNTIME_KEYS))
    if other:
        raise SystemExit(f"--set may change {', '.join(RUNTIME_KEYS)} only, not {', '.join(other)}")
    data = cfg.model_dump()
    for key, value in overrides.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise SystemExit(f"--set {overrides}: {problems}") from None


def cache_sequence(online: OnlineVideoKNet, frames: list[Frame]) -> list[CachedFrame]:
    """The network and the merge over one sequence, as one stream (kernels linked frame to frame)."""
    cfg = online.cfg
    previous = torch.zeros(1, cfg.num_kernels, cfg.neck_channels)
    cached = []
    for index, gt in enumerate(frames):
        assert gt.image is not None
        encoded = online.encode(image_tensor(gt.image).unsqueeze(0))
        kernels, mask_logits, class_logits, embeddings = online.stages["kernel_head"](
            encoded.fused, previous, torch.tensor([index > 0])
        )
        previous = kernels
        merged = merge_segments(cfg, mask_logits, class_logits, encoded.image_size)
        detections = Detections.from_merged(merged, embeddings)
        cached.append(CachedFrame(gt, merged.slot[0].int(), merged.semantic[0].to(torch.uint8), detections))
    return cached


def score(cfg: ModelConfig, sequences: dict[str, list[CachedFrame]]) -> dict[str, float]:
    evaluator = Evaluator(
        ("stq",), num_classes=cfg.num_classes, thing_ids=cfg.thing_classes, diagnostics=True
    )
    for name, frames in sequences.items():
        pixels = frames[0].detections.cells.shape[-1]
        memory = TrackMemory.stack([TrackMemory.empty(cfg, pixels, torch.device("cpu"))])
        for index, frame in enumerate(frames):
            ids, memory = track(cfg, frame.detections, memory, torch.tensor([index]))
            slot_track = torch.cat([ids[0], ids.new_zeros(int(frame.slot.max()) + 1)])
            track_map = slot_track[frame.slot.long()]
            pred = Frame(
                sequence=name,
                index=frame.gt.index,
                timestamp=frame.gt.timestamp,
                semantic=frame.semantic.numpy(),
                instance=wrap_track_ids(track_map.numpy()),
            )
            evaluator.update(frame.gt, pred, sequence_id=name)
    result = evaluator.result()
    out = {k: round(float(v) * 100, 2) for k, v in result.total.items() if k in ("stq", "aq", "sq")}
    switches = (result.diagnostics or {}).get("id_switches_per_track")
    if switches is not None:
        out["id_switches_per_track"] = round(float(switches), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path, help="labelled dataset root (KITTI-STEP or SemKITTI-DVPS)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--checkpoint", type=Path, default=Path("checkpoints/synth_small.pt"))
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE,...")
    parser.add_argument("--max-frames", type=int, default=None, help="first frames of each sequence")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--write", type=Path, help="write the checkpoint with the best-AQ setting here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = [("checkpoint", {})] + [(text, parse_setting(text)) for text in args.settings]
    model, cfg, _ = load_model(args.checkpoint, torch.device("cpu"))
    configs = [(label, with_overrides(cfg, overrides)) for label, overrides in settings]
    online = OnlineVideoKNet(model)
    dataset = open_dataset(args.data, split=args.split)
    sequences = {}
    with torch.inference_mode():
        for name in tqdm(dataset.sequences, desc="network", unit="sequence"):
            sequences[name] = cache_sequence(online, list(islice(dataset.frames(name), args.max_frames)))
        rows = []
        for label, variant in tqdm(configs, desc="tracker", unit="setting"):
            rows.append({"setting": label, **score(variant, sequences)})
    frames = sum(len(f) for f in sequences.values())
    print(f"{args.checkpoint} on {args.data} split {args.split}: {len(sequences)} sequences, {frames} frames")
    for row in rows:
        figures = "  ".join(f"{k} {v}" for k, v in row.items() if k != "setting")
        print(f"  {figures}  <- {row['setting']}")
    if args.json:
        args.json.write_text(json.dumps({"checkpoint": str(args.checkpoint), "rows": rows}, indent=2) + "\n")
    if args.write:
        best = max(range(len(rows)), key=lambda i: rows[i]["aq"])
        export_checkpoint(args.checkpoint, args.write, runtime=configs[best][1])
        print(f"wrote {args.write} with the best AQ's setting: {rows[best]['setting']}")


if __name__ == "__main__":
    main()
