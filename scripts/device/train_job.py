"""Train ``synth_small`` on one machine for a fixed wall-clock budget, then score it on held-out data.

    python scripts/device/train_job.py OUT [--minutes 7] [--work DIR] [--smoke]

Renders the training, validation and test splits of the synthetic world (fixed seeds, never shared
between splits) with every CPU core, trains the ``configs/model/synth_small.yaml`` recipe on the
best device there is (CUDA with bf16 autocast when present) for ``--minutes`` of optimiser steps,
validates, predicts the test split and scores it with ``vkstream eval``'s metrics and diagnostics,
with the learned association and with mask IoU. OUT then holds ``model.pt``, ``log.jsonl`` and
``scores.json`` (with the provenance of the run), each under 16 MB; the data, run folder and
predictions stay in the work folder. ``--smoke`` runs the same path with tiny splits and a short
budget on a CPU.

It needs PyTorch, timm, numba, OpenCV, SciPy, PyYAML, tqdm and pydantic, and neither Ray nor ZeroMQ.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import yaml  # noqa: E402

from vkstream.eval.folders import FolderPair, evaluate_folders  # noqa: E402
from vkstream.synth import generate_dataset  # noqa: E402
from vkstream.train import TrainConfig, train  # noqa: E402
from vkstream.train.predict import predict_dataset  # noqa: E402

RECIPE = ROOT / "configs" / "model" / "synth_small.yaml"
SIZE = (621, 188)
LAYOUT = "semkitti-dvps"
# split -> (seed, sequences, frames); the seeds are those of docs/model.md, the test seed is never trained on
SPLITS = {"train": (1, 120, 50), "val": (101, 4, 40), "test": (202, 4, 50)}
SMOKE_SPLITS = {"train": (1, 2, 6), "val": (101, 1, 4), "test": (202, 1, 4)}
MAX_FILE_BYTES = 16 * 2**20


def render(out: Path, splits: dict[str, tuple[int, int, int]], workers: int) -> dict[str, Path]:
    roots = {}
    for split, (seed, sequences, frames) in splits.items():
        root = out / "data" / split
        if not (root / "synth.yaml").is_file():
            started = time.perf_counter()
            report = generate_dataset(
                root,
                layout=LAYOUT,
                sequences=sequences,
                frames=frames,
                size=SIZE,
                seed=seed,
                split=split,
                progress=False,
                workers=workers,
            )
            print(
                f"rendered {split}: {report.frames} frames in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
        roots[split] = root
    return roots


def training_config(roots: dict[str, Path], run_dir: Path, minutes: float, smoke: bool) -> TrainConfig:
    recipe = yaml.safe_load(RECIPE.read_text())
    cuda = torch.cuda.is_available() and not smoke
    recipe["data"]["train"] = [{"root": str(roots["train"]), "split": "train"}]
    recipe["data"]["val"] = [{"root": str(roots["val"]), "split": "val"}]
    frames = SPLITS["train"][1] * SPLITS["train"][2]
    recipe["data"]["cache_frames"] = frames
    recipe["data"]["num_workers"] = min(8, max(0, (os.cpu_count() or 1) - 2)) if cuda else 0
    recipe["schedule"]["time_budget_min"] = minutes
    recipe["schedule"]["batch_size"] = 8 if cuda else recipe["schedule"]["batch_size"]
    if smoke:
        recipe["schedule"]["batch_size"] = 1
        recipe["data"]["augment"]["crop"] = [96, 192]
    recipe["val"] = {"every": 0, "metric": "auto"}
    recipe["run"].update(
        out=str(run_dir), device="cuda" if cuda else "cpu", amp="bf16", checkpoint_every=500, log_every=50
    )
    if not cuda:
        recipe["run"]["threads"] = None
    return TrainConfig.model_validate(recipe)


def score(model: Path, roots: dict[str, Path], out: Path) -> dict[str, dict]:
    results = {}
    for association in ("embedding", "mask_iou"):
        pred = out / f"pred-test-{association}"
        report = predict_dataset(model, roots["test"], pred, split="test", association=association)
        pair = FolderPair(roots["test"], pred, split="test", evaluator={"diagnostics": True})
        result = evaluate_folders(pair).to_json()
        result["frames_per_s"] = report.frames / report.seconds if report.seconds else None
        results[association] = result
        total = result["total"]
        print(
            f"test ({association}): STQ {total['stq']:.3f} AQ {total['aq']:.3f} SQ {total['sq']:.3f} "
            f"DSTQ {total['dstq']:.3f} abs-rel {total['depth_abs_rel']:.3f}",
            flush=True,
        )
    return results


def provenance(args: argparse.Namespace, started: float) -> dict[str, object]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available() and not args.smoke
        else platform.processor()
    )
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join(["scripts/device/train.sh", str(args.out), *sys.argv[2:]]),
        "git_commit": commit,
        "device": device or platform.machine(),
        "cpu_cores": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "minutes_budget": args.minutes,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--minutes", type=float, default=None, help="training budget (default 7; smoke 0.25)")
    parser.add_argument(
        "--work", type=Path, default=None, help="data, run and predictions (default: OUT/../<OUT name>-work)"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny splits and budget, on the CPU")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname).1s %(name)s: %(message)s")
    work = args.work or args.out.parent / f"{args.out.name}-work"
    args.minutes = args.minutes if args.minutes is not None else (0.25 if args.smoke else 7.0)
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    roots = render(work, SMOKE_SPLITS if args.smoke else SPLITS, os.cpu_count() or 1)
    run_dir = work / "run"
    cfg = training_config(roots, run_dir, args.minutes, args.smoke)
    summary = train(cfg, run_dir)
    print(summary.format(), flush=True)
    model = run_dir / "model.pt"
    scores = {
        "provenance": provenance(args, started),
        "training": {"steps": summary.steps, "seconds": round(summary.seconds, 1), "device": summary.device},
        "validation": summary.validation,
        "test": score(model, roots, work),
    }
    shutil.copyfile(model, args.out / "model.pt")
    shutil.copyfile(run_dir / "log.jsonl", args.out / "log.jsonl")
    (args.out / "scores.json").write_text(json.dumps(scores, indent=1) + "\n")
    for name in ("model.pt", "log.jsonl", "scores.json"):
        size = (args.out / name).stat().st_size
        if size > MAX_FILE_BYTES:
            print(f"error: {args.out / name} is {size / 2**20:.1f} MB, over the 16 MB a result file may have")
            return 1
    print(
        f"done in {time.perf_counter() - started:.0f} s: {args.out}/model.pt, log.jsonl, scores.json",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
