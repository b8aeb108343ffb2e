"""Pipeline figures as text: the periodic telemetry lines of ``vkstream run`` and the final summary."""

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
