"""A short soak (benchmarks/soak.py at a few hundred frames) on the session's Ray."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import REPO


def _soak_module():
    spec = importlib.util.spec_from_file_location("soak", REPO / "benchmarks" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_short_soak_keeps_memory_flat_and_counts_every_drop(ray_session, tmp_path: Path) -> None:
    figures = _soak_module().soak(
        frames=120, cycle=40, slow_ms=200, sample_every_s=0.5, name="soaktest", folder=tmp_path
    )
    assert figures["frames_published"] >= 120 and figures["attach_detach_cycles"] >= 2
    for actor in ("model", "publisher", "ingest main"):
        assert abs(figures["memory_mib"][actor]["growth_pct"]) < 10, figures["memory_mib"]
    assert figures["shared_memory_mib"].get("growth_pct", 0) < 10
    drops = figures["drops"]
    assert drops["fast_subscriber"]["lost"].get("main", 0) == 0  # it kept up: nothing lost unexplained
    # Every seq between a subscriber's first and last message was received, or counted as lost (by
    # the subscriber: ZeroMQ dropped it for the slow one alone) or as dropped (by the pipeline).
    for figures_of in (drops["fast_subscriber"], drops["slow_subscriber"]):
        assert set(figures_of["unaccounted"].values()) <= {0}, drops
    assert figures["stalls_main"] == 0  # the replay at speed 0 never waited out a lost frame
