"""Where the model's nodes run on a CPU: one actor, or the backbone and the heads in two.

A torch op waits for the slowest of its threads, so on a small CPU the model's threads lose much of
their time to the replays, the publisher and Ray running beside them, and two threads speed a step up
far less than twice. Two actors of one thread each instead run a frame's backbone beside the heads of
the frame before: stage parallelism, which needs no thread to wait for another. The depth branch of
the neck runs with the depth head (:mod:`vkstream.models.stage_modules`), so the two halves cost about
the same. On a GPU the parts stay in one actor, where they hand each other tensors on the device.
"""

from __future__ import annotations

from typing import Any

MODEL_ACTORS = {"backbone": "backbone", "kernel_tracker": "heads", "depth_head": "heads"}
"""Where :func:`split_model` puts each model node."""


def split_model(nodes: list[dict[str, Any]]) -> None:
    """Put the backbone and the heads (kernel tracker, depth head) of config ``nodes`` in two actors,
    in place; nodes already given an actor stay where they are. Each asks Ray for half a CPU, so both
    fit beside the sinks on a small machine."""
    for node in nodes:
        actor = MODEL_ACTORS.get(node["type"])
        if actor is not None and node.get("actor") is None:
            node["actor"] = actor
            node["resources"] = {**node.get("resources", {}), "num_cpus": 0.5}
