"""Chaos: every kind of actor killed during a flow-controlled replay, on the session's Ray.

The ingest, the model and the sinks (publisher and evaluator in one actor) are killed at once, the way
a node's out-of-memory kill or a crash takes them; Ray restarts each. The same subscriber, on the same
endpoint, goes on receiving; the stream resumes with ``state_reset``; every frame that was lost is
counted in ``dropped``; the replay does not slow to its stall timeout per frame; the online scores go
on from where they were.
"""

from __future__ import annotations

import time

import ray

from tests.pipeline.conftest import (
    evaluator_node,
    kitti_stream,
    make_config,
    model_nodes,
    publisher_endpoint,
    publisher_node,
)

ACTORS = ("source-replay", "backbone+kernel_tracker+depth_head", "sinks")


def test_killed_actors_restart_and_the_replay_goes_on(running, kitti_datasets) -> None:
    sinks = [{**publisher_node(), "actor": "sinks"}, {**evaluator_node(), "actor": "sinks"}]
    config = make_config(
        "chaos",
        [*model_nodes(), *sinks],
        streams=[
            kitti_stream(
                "replay", kitti_datasets["kitti-step"], "0000", speed=0, loop=True, ground_truth=True
            )
        ],
    )
    pipeline, collector = running(config)
    endpoint = publisher_endpoint(pipeline)
    collector.wait_for(lambda: collector.count("replay") >= 8, 90, pipeline)
    handles = [ray.get_actor(f"chaos-{name}") for name in ACTORS]
    pids = ray.get([h.pid.remote() for h in handles])
    killed = time.time_ns()
    for handle in handles:
        ray.kill(handle, no_restart=False)

    def after() -> list:
        return [r for r in list(collector.results["replay"]) if r.publish_ns > killed]

    collector.wait_for(lambda: len(after()) >= 1, 120, pipeline)
    first = after()[0]
    recovery_s = (first.publish_ns - killed) / 1e9
    stalls = pipeline.sources()["replay"]["stalls"]  # waiting for the frames lost, and for the restarts
    collector.wait_for(lambda: len(after()) >= 7, 60, pipeline)
    print(f"killed the ingest, the model and the sinks: next frame published {recovery_s:.1f} s later")
    assert set(ray.get([h.pid.remote() for h in handles])).isdisjoint(pids)
    assert publisher_endpoint(pipeline) == endpoint  # bound again: the subscriber was never told anything
    assert first.state_reset
    results = collector.results["replay"]
    assert [r.seq for r in results] == sorted({r.seq for r in results})
    # Every frame lost in the dead processes is counted: no gap in seq that `dropped` does not explain.
    assert collector.subscriber.stats.lost.get("replay", 0) == 0
    assert results[-1].dropped == results[-1].seq + 1 - len(results)
    # The restarted sinks acknowledge the replay's frames again: it stalls only for the frames lost.
    steady = after()[1:]
    per_frame_s = (steady[-1].publish_ns - steady[0].publish_ns) / 1e9 / (len(steady) - 1)
    assert per_frame_s < 1.5, per_frame_s
    assert pipeline.sources()["replay"]["stalls"] <= stalls + 1
    # The evaluator went on from its saved scores: it scored every frame published, but the batch the
    # kill interrupted (before, it had only the frames since the restart).
    published = len(collector.results["replay"])
    assert pipeline.stats()["reports"]["evaluator"]["evaluation"]["frames"] >= published - 2
