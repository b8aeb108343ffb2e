"""A pipeline as text for operators: its graph and actor plan (``vkstream run --dry-run``), the telemetry
lines of ``vkstream run`` and ``vkstream ctl stats``, and the online evaluation (from the JSON-able
figures of ``Pipeline.stats()``)."""

from __future__ import annotations

from typing import Any


def _ms(summary: dict[str, Any] | None, key: str) -> str:
    if not summary or not summary.get("count"):
        return "-"
    return f"{summary[key]:.1f}"


def format_stats(stats: dict[str, Any]) -> str:
    """One line per stream: state, output rate, end-to-end latency percentiles, per-node compute, drops."""
    streams = stats.get("streams", {})
    if not streams:
        return "no streams attached"
    rows = [("stream", "state", "frames", "Hz", "e2e p50/p90/p99 ms", "compute p50 ms", "dropped")]
    for sid, s in streams.items():
        latency = s.get("latency_ms", {})
        e2e = latency.get("e2e")
        e2e_text = "/".join(_ms(e2e, k) for k in ("p50", "p90", "p99"))
        compute = ", ".join(
            f"{key.removesuffix('.compute')} {_ms(value, 'p50')}"
            for key, value in latency.items()
            if key.endswith(".compute")
        )
        source = s.get("source") or {}
        state = source.get("state", "detached")
        if source.get("reconnects"):
            state += f" ({source['reconnects']} reconnects)"
        dropped = sum(s.get("dropped", {}).values())
        rows.append(
            (
                sid,
                state,
                str(s.get("frames", 0)),
                f"{s.get('rate_hz', 0.0):.1f}",
                e2e_text,
                compute or "-",
                str(dropped),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    for sid, s in streams.items():
        source = s.get("source") or {}
        if source.get("last_error") and source.get("state") != "streaming":
            lines.append(f"{sid}: {source['last_error']}")
    return "\n".join(lines)


def evaluations(stats: dict[str, Any]) -> dict[str, Any]:
    """The online evaluation of every node that reports one, by node name."""
    found = {}
    for name, report in stats.get("reports", {}).items():
        if isinstance(report, dict) and "evaluation" in report:
            found[name] = report["evaluation"]
    return found


def format_evaluation(evaluation: dict[str, Any]) -> str:
    """The evaluating node's table: per stream run and in total, in percent."""
    return str(evaluation.get("table") or "no frames with ground truth were published")


def describe_plan(config: Any, plan: Any) -> str:
    """The graph, the model and the actor plan of a pipeline config (``vkstream run --dry-run``)."""
    sources = [f"{s.id} ({s.source.kind})" for s in config.streams] or [
        "(no streams: attach with vkstream ctl)"
    ]
    lines = ["DAG:", f"  ingest: {', '.join(sources)}"]
    nodes = [n for a in plan.actors for n in a.nodes]
    width = max(len(n.name) for n in nodes)
    consumed = {ref.partition(".")[0] for n in nodes for ref in n.wiring.values()}
    for n in nodes:
        feeds = ", ".join(n.wiring[port] for port in n.cls.inputs if port in n.wiring)
        sink = "" if n.name in consumed else "  (sink)"
        lines.append(f"  {n.name.ljust(width)} [{n.spec.type}] <- {feeds}{sink}")
    if config.model is not None:
        m = config.model
        users = ", ".join(n.name for n in nodes if n.cls.uses_model) or "no node"
        lines.append(f"Model: {m.checkpoint} on {m.device} ({m.precision}), run by {users}")
    lines.append("Actors:")
    for s in config.streams:
        lines.append(f"  {config.name}-source-{s.id}: ingest of {s.id} (CPU {s.resources.num_cpus:g})")
    for actor in plan.actors:
        names = ", ".join(f"{n.name} [{n.spec.type}]" for n in actor.nodes)
        res = [f"CPU {actor.resources.num_cpus:g}"]
        if actor.resources.num_gpus:
            res.append(f"GPU {actor.resources.num_gpus:g}")
        res += [f"{k} {v:g}" for k, v in sorted(actor.resources.custom.items())]
        device = f" on {actor.device}" if actor.device else ""
        b = actor.batching
        batch = "no batching"
        if int(b.max_batch) > 1:
            batch = f"batches of up to {b.max_batch}, waiting {b.max_wait_ms:g} ms"
        lines.append(f"  {config.name}-{actor.name}: {names}{device} ({', '.join(res)}; {batch})")
    pending = config.backpressure.max_pending
    lines.append(f"Backpressure: {pending} pending frame(s) per stream per actor, the oldest dropped")
    return "\n".join(lines)
