"""``vkstream train``: train the online Video K-Net from a YAML config, or resume a run."""

from __future__ import annotations

import argparse
from pathlib import Path

from vkstream.launch.argtypes import require_at_least
from vkstream.launch.commands import add_command, show_progress
from vkstream.launch.errors import UsageError

DEVICES = ("auto", "cpu", "cuda")
RUNS = Path("runs")

_EPILOG = """\
examples:
  vkstream train configs/model/synth_small.yaml
  vkstream train configs/model/synth_small.yaml --resume runs/synth_small
  vkstream train configs/model/synth_small_finetune.yaml    # from checkpoints/synth_small.pt
  vkstream train configs/model/kitti_step_r50.yaml --out runs/r50 --device cuda
  vkstream config show train          # every key a config may set, with defaults

The run folder (default runs/<config name>) gets config.yaml, log.jsonl (losses per step and
validation results), checkpoints/ (resumable; best.pt has the best validation metric) and
model.pt, the slim fp16 checkpoint to ship. Interrupt at any time and continue with --resume.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "train",
        summary="train the model on KITTI-format data",
        description=(
            "Train the online Video K-Net on key/reference frame pairs of labelled KITTI-STEP or "
            "SemKITTI-DVPS sequences, validating on held-out sequences frame by frame as the runtime runs."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("config", metavar="CONFIG", type=Path, help="training config (YAML)")
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR|CKPT",
        type=Path,
        help="continue a run from its last or a given checkpoint",
    )
    parser.add_argument(
        "--init-from",
        metavar="CKPT",
        type=Path,
        help="fine-tune: start from this checkpoint's weights with a fresh optimiser (run.init_from)",
    )
    parser.add_argument(
        "--out", metavar="RUN_DIR", type=Path, help="run folder (default: runs/<config name>)"
    )
    parser.add_argument("--device", choices=DEVICES, help="override run.device of the config")
    parser.add_argument("--steps", type=int, metavar="N", help="override schedule.steps of the config")
    parser.add_argument(
        "--minutes",
        type=float,
        metavar="M",
        help="train for M minutes of steps instead of schedule.steps (the count is fixed from the speed "
        "of the first steps, so the learning-rate schedule spans the budget)",
    )
    parser.add_argument("--no-progress", action="store_true", help="log lines instead of a progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.steps is not None:
        require_at_least(args.steps, 1, "--steps")
    if args.minutes is not None and not args.minutes > 0:
        raise UsageError(f"invalid --minutes {args.minutes}: must be positive")

    from vkstream.launch.config import load_config
    from vkstream.train import TrainConfig, train
    from vkstream.train.trainer import resume_target

    cfg = load_config(args.config, TrainConfig)
    overrides = {
        "run": {
            **({"device": args.device} if args.device else {}),
            **({"init_from": args.init_from} if args.init_from else {}),
        },
        "schedule": {
            **({"steps": args.steps} if args.steps is not None else {}),
            **({"time_budget_min": args.minutes} if args.minutes is not None else {}),
        },
    }
    cfg = TrainConfig.model_validate(_merge(cfg.model_dump(), overrides))
    resume = run_dir = None
    if args.resume is not None:
        resume, run_dir = resume_target(args.resume)
    run_dir = args.out or run_dir or cfg.run.out or RUNS / args.config.stem
    summary = train(cfg, run_dir, resume=resume, progress=show_progress(args, disabled=args.no_progress))
    print(summary.format())
    return 0


def _merge(base: dict, changes: dict) -> dict:
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) else value
    return merged
