"""``vkstream bench`` on one GPU machine: both models, three precisions, 1 to 16 streams, in minutes.

    python scripts/device/bench_job.py OUT [--smoke] [--budget-s 330]

Runs, in one process with one Ray instance, ``vkstream bench`` for ``synth_small`` (the shipped
checkpoint) and ``kitti_r50`` (the reference architecture, random weights: speed does not depend on
them) at 1248x384: the bare loop over 1/2/4/8/16 streams in fp32, bf16 and bf16 compiled; the naive
loop on one stream; and the pipeline with 1/2/4/8/16 cameras at 10 Hz in fp32 and bf16 (the
capture-to-publication latency a planner sees). Each run's JSON goes to OUT/runs/, and OUT/bench.json
and OUT/bench.md gather them with the machine. Runs that would overrun the budget are skipped and
listed. ``--smoke`` runs the same path on a CPU with the tiny preset, small frames and two streams.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from vkstream.bench.report import BenchResult, format_table, machine_info  # noqa: E402
from vkstream.launch.cli import main as vkstream  # noqa: E402

SIZE = "1248x384"
STREAMS = "1,2,4,8,16"
FULL = [
    # (name, model arguments, precision, compile, modes, streams, rate)
    (
        "synth_small-fp32",
        ["--checkpoint", "checkpoints/synth_small.pt"],
        "fp32",
        "none",
        "bare,naive",
        STREAMS,
        0,
    ),
    ("synth_small-bf16", ["--checkpoint", "checkpoints/synth_small.pt"], "bf16", "none", "bare", STREAMS, 0),
    (
        "synth_small-bf16-compiled",
        ["--checkpoint", "checkpoints/synth_small.pt"],
        "bf16",
        "default",
        "bare",
        STREAMS,
        0,
    ),
    ("kitti_r50-fp32", ["--preset", "kitti_r50"], "fp32", "none", "bare,naive", STREAMS, 0),
    ("kitti_r50-bf16", ["--preset", "kitti_r50"], "bf16", "none", "bare", STREAMS, 0),
    ("kitti_r50-bf16-compiled", ["--preset", "kitti_r50"], "bf16", "default", "bare", STREAMS, 0),
    ("kitti_r50-fp32-10hz", ["--preset", "kitti_r50"], "fp32", "none", "pipeline", STREAMS, 10),
    ("kitti_r50-bf16-10hz", ["--preset", "kitti_r50"], "bf16", "none", "pipeline", STREAMS, 10),
    (
        "synth_small-fp32-10hz",
        ["--checkpoint", "checkpoints/synth_small.pt"],
        "fp32",
        "none",
        "pipeline",
        STREAMS,
        10,
    ),
]
SMOKE = [
    ("tiny-fp32", ["--preset", "tiny"], "fp32", "none", "bare,naive,pipeline", "1", 0),
    ("tiny-bf16", ["--preset", "tiny"], "bf16", "none", "bare", "1,2", 0),
    ("tiny-fp32-10hz", ["--preset", "tiny"], "fp32", "none", "pipeline", "1", 10),
]
NAMING = ("name", "model", "precision", "compile", "modes", "streams", "rate")


def run(out: Path, smoke: bool, budget_s: float) -> int:
    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    plan = SMOKE if smoke else FULL
    size = "96x64" if smoke else SIZE
    frames = ["--frames", "6", "--warmup", "2"] if smoke else ["--frames", "30", "--warmup", "5"]
    data = out.parent / f"{out.name}-data"
    started = time.perf_counter()
    done, skipped, failed = [], [], []
    for name, model, precision, compile_mode, modes, streams, rate in plan:
        elapsed = time.perf_counter() - started
        if elapsed > budget_s:
            skipped.append(name)
            continue
        argv = [
            "bench",
            *model,
            "--size",
            size,
            "--precision",
            precision,
            "--compile",
            compile_mode,
            "--modes",
            modes,
            "--streams",
            streams,
            "--rate",
            str(rate),
            "--data",
            str(data),
            *frames,
            "--json",
            str(runs_dir / f"{name}.json"),
        ]
        print(f"[{elapsed:5.0f} s] {name}: vkstream {' '.join(argv)}", flush=True)
        code = vkstream(argv)
        (done if code == 0 else failed).append(name)
    gather(out, runs_dir, done, skipped, failed, time.perf_counter() - started)
    return 1 if failed else 0


def gather(
    out: Path, runs_dir: Path, done: list[str], skipped: list[str], failed: list[str], wall: float
) -> None:
    documents = {name: json.loads((runs_dir / f"{name}.json").read_text()) for name in done}
    summary = {
        "machine": machine_info(),
        "wall_s": round(wall, 1),
        "skipped": skipped,
        "failed": failed,
        "runs": documents,
    }
    (out / "bench.json").write_text(json.dumps(summary, indent=1) + "\n")
    lines = [f"# vkstream bench on {summary['machine'].get('cpu', '')}, {wall:.0f} s", ""]
    for name, doc in documents.items():
        results = [BenchResult.from_dict(r) for r in doc["results"]]
        lines += [
            f"## {name}: {doc.get('model')} {doc.get('size')} {doc.get('precision')} "
            f"compile {doc.get('compile')} rate {doc.get('rate_hz')} Hz",
            "",
            format_table(results),
            "",
        ]
    if skipped or failed:
        lines.append(
            f"skipped (over the time budget): {', '.join(skipped) or 'none'}; "
            f"failed: {', '.join(failed) or 'none'}"
        )
    (out / "bench.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--smoke", action="store_true", help="the tiny preset on a CPU, small frames")
    parser.add_argument("--budget-s", type=float, default=330.0, help="start no run after this many seconds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname).1s %(name)s: %(message)s")
    return run(args.out, args.smoke, args.budget_s)


if __name__ == "__main__":
    sys.exit(main())
