"""Fuzz every endpoint that takes outside input with many cases: the tests' targets, at scale.

    python benchmarks/fuzz.py [--cases 10000] [--only wire,control,config,png] [--json OUT]

Targets (tests/fuzz/): the wire decoder (random bytes and msgpack, valid messages mutated, hostile
array maps: nothing but WireFormatError may come out), the control endpoint on 127.0.0.1 (random
bytes, multipart, huge, deeply nested, non-object JSON, wrong types: always one JSON error reply, then
``ping`` answers), pipeline config files (load, or one ConfigError) and a KITTI-STEP dataset with one
PNG corrupted per case (frames skipped, or DatasetError). Prints cases, outcomes and seconds per target.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.fuzz.control_targets import ControlProbe, control_requests  # noqa: E402
from tests.fuzz.file_targets import check_config, check_dataset, config_texts, png_corruptions  # noqa: E402
from tests.fuzz.wire_targets import check_decoder, wire_messages  # noqa: E402
from tests.pipeline.conftest import make_config  # noqa: E402
from vkstream.pipeline.control import ControlServer  # noqa: E402
from vkstream.pipeline.runtime import Pipeline  # noqa: E402
from vkstream.synth import generate_dataset  # noqa: E402

TARGETS = ("wire", "control", "config", "png")


def run(strategy, check: Callable[..., str], cases: int) -> dict:
    outcomes: Counter[str] = Counter()

    @settings(max_examples=cases, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(strategy)
    def target(value) -> None:
        outcomes[check(value)] += 1

    start = time.perf_counter()
    target()
    seconds = time.perf_counter() - start
    return {"cases": sum(outcomes.values()), "outcomes": dict(outcomes), "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per target (default 10000)")
    parser.add_argument("--only", default=",".join(TARGETS), help=f"targets, of {', '.join(TARGETS)}")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    wanted = [t for t in args.only.split(",") if t]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in wanted:
            if name == "wire":
                results[name] = run(wire_messages(), check_decoder, args.cases)
            elif name == "control":
                server = ControlServer(Pipeline(make_config("fuzz")), "tcp://127.0.0.1:*")
                probe = ControlProbe(server.endpoint)
                try:
                    results[name] = run(control_requests(), probe.check, args.cases)
                    results[name]["server_served"] = server.served
                finally:
                    probe.close()
                    server.close()
            elif name == "config":
                results[name] = run(
                    config_texts(), lambda text: check_config(folder / "p.yaml", text), args.cases
                )
            elif name == "png":
                data = folder / "data"
                generate_dataset(
                    data, layout="kitti-step", sequences=1, frames=2, size=(32, 32), seed=3, progress=False
                )
                results[name] = run(
                    png_corruptions(), lambda c, data=data: check_dataset(data, c), args.cases
                )
            else:
                parser.error(f"unknown target {name!r}")
            print(f"{name:8s} {json.dumps(results[name])}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
