"""Where the model's nodes run on a CPU: one actor, or two that run consecutive frames side by side.

A torch op waits for the slowest of its threads, so on a small CPU the model's threads lose much of
their time to the replays, the publisher and Ray running beside them, and two threads speed a step up
far less than twice. Two actors of one thread each instead run a frame's first nodes beside the last
nodes of the frame before: stage parallelism, where no thread waits for another.

Where to cut depends on what else shares the cores. On one thread a 621x188 frame of
``synth_small`` costs about 53 ms in the backbone, 22 in the kernel tracker and 30 in the depth head
(which runs the neck's depth branch, :mod:`vkstream.models.stage_modules`). With only a publisher
beside the model the even cut (backbone | kernel tracker and depth head) keeps both actors busy; with
heavy sinks (an evaluator and an MCAP recorder, 60-80 ms a frame) the second actor's core also runs
them, and the cut after the kernel tracker leaves it that room. On a GPU the parts stay in one
actor, where they hand each other tensors on the device.
"""

from __future__ import annotations

from typing import Any

MODEL_NODES = ("backbone", "kernel_tracker", "depth_head")
"""The model's node types, in the order a frame passes them."""
EVEN_CUT = 1
"""The backbone alone in the first actor: the two halves cost about the same."""
LIGHT_SECOND = 2
"""The backbone and the kernel tracker in the first actor: the depth head's leaves room beside it."""


def split_model(nodes: list[dict[str, Any]], first: int = EVEN_CUT) -> None:
    """Put the model nodes of config ``nodes`` in two actors, in place: the first ``first`` of
    :data:`MODEL_NODES` in one, the others in the next, each named after its nodes (as fused actors
    are). Nodes already given an actor stay where they are. Each actor asks Ray for half a CPU, so
    both fit beside the sinks on a small machine."""
    if not 0 < first < len(MODEL_NODES):
        raise ValueError(
            f"the first actor takes 1 to {len(MODEL_NODES) - 1} of the model's nodes, not {first}"
        )
    model = [n for n in nodes if n["type"] in MODEL_NODES and n.get("actor") is None]
    halves = (
        [n for n in model if MODEL_NODES.index(n["type"]) < first],
        [n for n in model if MODEL_NODES.index(n["type"]) >= first],
    )
    for half in halves:
        actor = "+".join(n["name"] for n in half)
        for node in half:
            node["actor"] = actor
            node["resources"] = {**node.get("resources", {}), "num_cpus": 0.5}
