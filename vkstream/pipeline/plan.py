"""Which node runs in which actor, on which resources, and the text ``vkstream run --dry-run`` prints.

Consecutive nodes on the same device are fused into one actor by default: on one GPU, stages that
hand each other large tensors belong in one process, where they pass by reference instead of through
the object store (two processes cannot pair over NCCL on one GPU either).
"""

from __future__ import annotations

from dataclasses import dataclass

from vkstream.pipeline.config import BatchingConfig, NodeSpec, PipelineConfig, Resources
from vkstream.pipeline.node import node_target


@dataclass(frozen=True)
class ActorPlan:
    name: str
    nodes: tuple[NodeSpec, ...]
    device: str | None
    """The resolved device of the actor's nodes (None for host-only nodes)."""
    resources: Resources
    batching: BatchingConfig
    """The pipeline's batching with ``auto`` resolved for this actor's device."""


def resolve_device(device: str | None, gpus: float) -> str | None:
    """``auto`` becomes ``cuda`` where the cluster has GPUs, else ``cpu``."""
    if device is None:
        return None
    if device == "auto":
        return "cuda" if gpus > 0 else "cpu"
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N")
    return device


def plan_actors(config: PipelineConfig, gpus: float) -> list[ActorPlan]:
    """Group the chain into actors: explicit ``actor`` names first, then fusion of equal devices."""
    groups: list[tuple[str, list[NodeSpec], str | None]] = []
    for node in config.nodes:
        node_target(node.type)  # unknown types fail here, before anything starts
        device = resolve_device(node.device, gpus)
        key = node.actor or (f"device:{device}" if config.fuse and device is not None else None)
        if groups and key is not None and groups[-1][0] == key:
            groups[-1][1].append(node)
        else:
            groups.append((key or f"node:{node.name}", [node], device))
    plans = []
    for key, nodes, device in groups:
        name = key.removeprefix("node:") if key.startswith("node:") else _group_name(key, nodes)
        resources = Resources(
            num_cpus=max(n.resources.num_cpus for n in nodes),
            num_gpus=max(n.resources.num_gpus for n in nodes),
            custom={
                k: max(n.resources.custom.get(k, 0.0) for n in nodes)
                for n in nodes
                for k in n.resources.custom
            },
        )
        if device is not None and device.startswith("cuda") and resources.num_gpus == 0:
            resources = resources.model_copy(update={"num_gpus": 1.0})
        plans.append(ActorPlan(name, tuple(nodes), device, resources, config.batching.for_device(device)))
    names = [p.name for p in plans]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"actor names must be unique: {', '.join(repeated)} repeated")
    return plans


def _group_name(key: str, nodes: list[NodeSpec]) -> str:
    if key.startswith("device:"):
        return "+".join(n.name for n in nodes) if len(nodes) <= 3 else f"{nodes[0].name}..{nodes[-1].name}"
    return key


def missing_resources(plans: list[ActorPlan], available: dict[str, float]) -> list[str]:
    """Requests no node of the cluster could meet (checked against cluster totals), as text."""
    problems = []
    for plan in plans:
        wanted = {"CPU": plan.resources.num_cpus, "GPU": plan.resources.num_gpus, **plan.resources.custom}
        for resource, amount in wanted.items():
            if amount > available.get(resource, 0.0):
                problems.append(
                    f"actor {plan.name!r} needs {resource} {amount:g}, the cluster has "
                    f"{available.get(resource, 0.0):g}"
                )
    return problems


def describe_plan(config: PipelineConfig, plans: list[ActorPlan]) -> str:
    """The DAG and the actor plan, for people."""
    lines = ["DAG:"]
    sources = [f"{s.id} ({s.source.kind})" for s in config.streams] or [
        "(no streams: attach with vkstream ctl)"
    ]
    lines.append(f"  ingest: {', '.join(sources)}")
    lines.append("    -> " + " -> ".join(n.name for n in config.nodes))
    lines.append("Actors:")
    for s in config.streams:
        lines.append(f"  {config.name}-source-{s.id}: ingest of {s.id} (CPU {s.resources.num_cpus:g})")
    for plan in plans:
        nodes = ", ".join(f"{n.name} [{n.type}]" for n in plan.nodes)
        res = [f"CPU {plan.resources.num_cpus:g}"]
        if plan.resources.num_gpus:
            res.append(f"GPU {plan.resources.num_gpus:g}")
        res += [f"{k} {v:g}" for k, v in sorted(plan.resources.custom.items())]
        device = f" on {plan.device}" if plan.device else ""
        b = plan.batching
        batch = "no batching"
        if int(b.max_batch) > 1:
            batch = f"batches of up to {b.max_batch}, waiting {b.max_wait_ms:g} ms"
        lines.append(f"  {config.name}-{plan.name}: {nodes}{device} ({', '.join(res)}; {batch})")
    pending = config.backpressure.max_pending
    lines.append(f"Backpressure: {pending} pending frame(s) per stream per actor, the oldest dropped")
    return "\n".join(lines)
