"""``vkstream run``: start a pipeline from its YAML config and report on it until it ends."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from vkstream.launch.argtypes import require_at_least
from vkstream.launch.commands import add_command

log = logging.getLogger(__name__)

_EPILOG = """\
examples:
  vkstream run configs/pipeline/fanout.yaml --dry-run     # the DAG, the model and which actor runs what
  vkstream run configs/pipeline/replay.yaml
  vkstream run configs/pipeline/cameras.yaml --serve      # run until Ctrl-C; attach with vkstream ctl
  vkstream run configs/pipeline/cameras.yaml --address auto   # on an existing Ray cluster

Every --report-every seconds one line per stream: state, published frames and rate, end-to-end
latency (capture to publication) p50/p90/p99, each node's compute time and dropped frames. Without
--serve the run ends when every stream's source has ended and its frames are published. Ctrl-C or
SIGTERM shut down cleanly (exit code 0).
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "run",
        summary="run a streaming pipeline (cameras or replays -> model -> ZeroMQ)",
        description="Start the pipeline described by CONFIG on Ray and publish results over ZeroMQ.",
        epilog=_EPILOG,
    )
    parser.add_argument("config", type=Path, metavar="CONFIG", help="pipeline YAML (see configs/pipeline)")
    parser.add_argument(
        "--dry-run", action="store_true", help="check the graph, print it and the actor plan, then exit"
    )
    parser.add_argument("--address", metavar="ADDR", help="join a Ray cluster ('auto' or HOST:PORT)")
    parser.add_argument("--serve", action="store_true", help="keep running when the streams end")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--report-every", type=float, metavar="S", help="seconds between reports")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the final figures as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vkstream.launch.config import load_config
    from vkstream.pipeline.config import PipelineConfig

    if args.duration is not None:
        require_at_least(args.duration, 0.0, "--duration")
    config = load_config(args.config, PipelineConfig)
    if args.dry_run:
        print(dry_run_text(config))
        return 0
    every = config.telemetry.report_every_s if args.report_every is None else args.report_every
    final = run_pipeline(config, address=args.address, serve=args.serve, duration=args.duration, every=every)
    from vkstream.viz.telemetry import evaluations, format_evaluation, format_stats

    print("final:")
    print(format_stats(final))
    for name, evaluation in evaluations(final).items():
        print(f"online evaluation ({name}):")
        print(format_evaluation(evaluation))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(final, indent=2, default=str) + "\n")
    return 0


def dry_run_text(config: Any) -> str:
    import torch

    from vkstream.pipeline.plan import plan_actors
    from vkstream.viz.telemetry import describe_plan

    gpus = torch.cuda.device_count()
    text = describe_plan(config, plan_actors(config, gpus))
    return f"{text}\n(device auto resolved for this machine: {gpus} GPU(s); a cluster decides at start)"


def run_pipeline(
    config: Any, *, address: str | None, serve: bool, duration: float | None, every: float
) -> dict[str, Any]:
    """Start, report every ``every`` s, stop on a signal, the duration, or (unless serving) completion."""
    from vkstream.pipeline.control import ControlServer
    from vkstream.pipeline.runtime import Pipeline
    from vkstream.viz.telemetry import format_stats

    stop = threading.Event()
    pipeline = Pipeline(config, address=address)
    control = None
    previous = _install_signal_handlers(stop)
    try:
        pipeline.start()
        _install_signal_handlers(stop)  # again: starting Ray replaced the SIGTERM handler with its own
        if config.control.enabled:
            control = ControlServer(
                pipeline,
                config.control.endpoint,
                allow_remote=config.control.allow_remote,
                curve=config.control.curve,
                on_shutdown=stop.set,
            )
            log.info(
                "control endpoint %s (vkstream ctl --endpoint %s ...)", control.endpoint, control.endpoint
            )
        endpoints = [r.get("endpoint") for r in pipeline.stats()["reports"].values() if "endpoint" in r]
        for endpoint in endpoints:
            log.info("publishing on %s (vkstream listen %s)", endpoint, endpoint)
        started = time.monotonic()
        last_report = started
        idle_polls = 0
        while not stop.wait(0.5):
            now = time.monotonic()
            if duration is not None and now - started >= duration:
                break
            if every > 0 and now - last_report >= every:
                last_report = now
                print(format_stats(pipeline.stats()), flush=True)
            if not serve and pipeline.stream_ids():
                idle_polls = idle_polls + 1 if pipeline.idle() else 0
                if idle_polls >= 2:
                    break
    finally:
        if control is not None:
            control.close()
        final = pipeline.shutdown()
        _restore_signal_handlers(previous)
    return final


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C: stop waiting for a clean shutdown
            raise KeyboardInterrupt
        print(f"\n{signal.Signals(signum).name}: shutting down", file=sys.stderr, flush=True)
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
