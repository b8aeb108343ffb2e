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

    # The sinks may publish what they hold before the kill reaches them; the restarted model's first
    # frame carries `state_reset`.
    collector.wait_for(lambda: any(r.state_reset for r in after()), 120, pipeline)
    frames = after()
    reset_at = next(i for i, r in enumerate(frames) if r.state_reset)
    assert all(r.publish_ns - killed < 2e9 for r in frames[:reset_at]), "published after the kill"
    first = frames[reset_at]
    recovery_s = (first.publish_ns - killed) / 1e9

    def source() -> dict:
        return pipeline.sources()["replay"]

    collector.wait_for(lambda: source()["state"] == "streaming", 30, pipeline)
    stalls = source()["stalls"]  # waiting for the frames lost, and for the restarts
    collector.wait_for(lambda: len(after()) >= reset_at + 7, 60, pipeline)
    print(f"killed the ingest, the model and the sinks: next frame published {recovery_s:.1f} s later")
    assert set(ray.get([h.pid.remote() for h in handles])).isdisjoint(pids)
    assert publisher_endpoint(pipeline) == endpoint  # bound again: the subscriber was never told anything
    results = collector.results["replay"]
    assert [r.seq for r in results] == sorted({r.seq for r in results})
    # Every frame lost in the dead processes is counted: no gap in seq that `dropped` does not explain.
    # A publisher killed after sending a batch but before its counts reached the store counts that
    # batch (at most the two frames in flight) once more: `dropped` errs high, never low.
    assert collector.subscriber.stats.lost.get("replay", 0) == 0
    overcount = results[-1].dropped - (results[-1].seq + 1 - len(results))
    assert 0 <= overcount <= 2, overcount
    # The restarted sinks acknowledge the replay's frames again: it stalls only for the frames lost.
    steady = after()[reset_at + 1 :]
    per_frame_s = (steady[-1].publish_ns - steady[0].publish_ns) / 1e9 / (len(steady) - 1)
    assert per_frame_s < 1.5, per_frame_s
    assert pipeline.sources()["replay"]["stalls"] <= stalls + 1
    # The evaluator went on from its saved scores: it scored every frame published, but the batch the
    # kill interrupted (before, it had only the frames since the restart).
    published = len(collector.results["replay"])
    assert pipeline.stats()["reports"]["evaluator"]["evaluation"]["frames"] >= published - 2
