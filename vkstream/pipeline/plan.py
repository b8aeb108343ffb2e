"""Which node runs in which actor, and what each actor sends to which.

Consecutive nodes on the same device are fused into one actor by default: on one GPU, stages that
hand each other large tensors belong in one process, where they pass by reference instead of through
the object store (two processes cannot pair over NCCL on one GPU either). Between actors, each edge
carries only the outputs its receiver's nodes take; an actor fed by several (fan-in) joins the parts of
a frame before running it.

On a CPU the model's nodes can run in two actors instead (``model.split_after``): a torch op waits for
the slowest of its threads, so on a small CPU the model's threads lose much of their time to the
replays, the sinks and Ray beside them, and two threads speed a step up far less than twice. Two
actors of one thread each run a frame's first nodes beside the last nodes of the frame before, and no
thread waits for another.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from vkstream.nodes.node import INGEST
from vkstream.pipeline.config import BatchingConfig, PipelineConfig, Resources
from vkstream.pipeline.graph import GraphNode, build_graph

SPLIT = "split:"
"""Group keys of the two halves of a model split on a CPU (``model.split_after``)."""
Route = tuple[str, tuple[str, ...]]
"""(receiving actor, the ``node.port`` keys it takes from the sender)."""


@dataclass(frozen=True)
class ActorPlan:
    name: str
    nodes: tuple[GraphNode, ...]
    device: str | None
    """The device of the actor's nodes, ``auto`` resolved (None for host-only nodes)."""
    resources: Resources
    batching: BatchingConfig
    """The pipeline's batching with ``auto`` resolved for this actor's device."""
    sources: frozenset[str] = frozenset()
    """Who sends this actor parts of a frame: actors' names and/or ``ingest``."""
    routes: tuple[Route, ...] = ()
    """Where this actor's outputs go; none for a sink."""


@dataclass(frozen=True)
class Plan:
    actors: tuple[ActorPlan, ...]
    ingest: tuple[Route, ...]
    """What every stream's ingest sends to which actor."""
    sinks: tuple[str, ...] = ()
    """Actors that send nothing on: frames end there (telemetry, replays' flow control)."""


def placement(device: str | None, gpus: float) -> str | None:
    """Where a node's device name puts it: ``auto`` is ``cuda`` on a cluster with GPUs, else ``cpu``."""
    return ("cuda" if gpus > 0 else "cpu") if device == "auto" else device


def plan_actors(config: PipelineConfig, gpus: float) -> Plan:
    """Group the graph into actors (explicit ``actor`` names, then fusion of equal devices) and route it."""
    groups: list[tuple[str, list[GraphNode], str | None]] = []
    split_after = config.model.split_after if config.model else None
    model_nodes = 0
    for node in build_graph(config):
        wanted = node.spec.device or (config.model.device if node.cls.uses_model and config.model else None)
        device = placement(wanted, gpus)
        key = node.spec.actor or (f"device:{device}" if config.fuse and device is not None else None)
        if split_after and node.cls.uses_model and node.spec.actor is None and _on_cpu(device):
            key = f"{SPLIT}{int(model_nodes >= split_after)}"
            model_nodes += 1
        if groups and key is not None and groups[-1][0] == key:
            groups[-1][1].append(node)
        else:
            groups.append((key or f"node:{node.name}", [node], device))
    names = [
        key.removeprefix("node:") if key.startswith("node:") else _group_name(key, n) for key, n, _ in groups
    ]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"actor names must be unique: {', '.join(repeated)} repeated")
    actor_of = {node.name: name for name, (_, nodes, _) in zip(names, groups, strict=True) for node in nodes}
    actor_of[INGEST] = INGEST
    sources: dict[str, set[str]] = defaultdict(set)
    routes: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for name, (_, nodes, _) in zip(names, groups, strict=True):
        for node in nodes:
            for ref in node.wiring.values():
                sender = actor_of[ref.partition(".")[0]]
                if sender != name:
                    sources[name].add(sender)
                    routes[sender][name].add(ref)
    plans = []
    for name, (key, nodes, device) in zip(names, groups, strict=True):
        resources = Resources(
            # a split model shares the model's reservation between its two actors
            num_cpus=max(n.spec.resources.num_cpus for n in nodes) / (2 if key.startswith(SPLIT) else 1),
            num_gpus=max(n.spec.resources.num_gpus for n in nodes),
            custom={
                k: max(n.spec.resources.custom.get(k, 0.0) for n in nodes)
                for n in nodes
                for k in n.spec.resources.custom
            },
        )
        if device is not None and device.startswith("cuda") and resources.num_gpus == 0:
            resources = resources.model_copy(update={"num_gpus": 1.0})
        out = tuple((to, tuple(sorted(keys))) for to, keys in routes[name].items())
        batching = config.batching.for_device(device)
        plans.append(
            ActorPlan(name, tuple(nodes), device, resources, batching, frozenset(sources[name]), out)
        )
    ingest = tuple((to, tuple(sorted(keys))) for to, keys in routes[INGEST].items())
    return Plan(tuple(plans), ingest, tuple(p.name for p in plans if not p.routes))


def _on_cpu(device: str | None) -> bool:
    return device is not None and device.split(":")[0] == "cpu"


def _group_name(key: str, nodes: list[GraphNode]) -> str:
    if key.startswith(("device:", SPLIT)):
        return "+".join(n.name for n in nodes) if len(nodes) <= 3 else f"{nodes[0].name}..{nodes[-1].name}"
    return key


def missing_resources(plan: Plan, available: dict[str, float]) -> list[str]:
    """Requests no node of the cluster could meet (checked against cluster totals), as text."""
    problems = []
    for actor in plan.actors:
        wanted = {"CPU": actor.resources.num_cpus, "GPU": actor.resources.num_gpus, **actor.resources.custom}
        for resource, amount in wanted.items():
            if amount > available.get(resource, 0.0):
                problems.append(
                    f"actor {actor.name!r} needs {resource} {amount:g}, the cluster has "
                    f"{available.get(resource, 0.0):g}"
                )
    return problems
