"""Evaluation results: per-sequence rows and a total, as a table for people and JSON for tools."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vkstream.eval.diagnostics import format_diagnostics

if TYPE_CHECKING:
    from vkstream.eval.stq import SegmentationTrackingQuality, SequenceScores
    from vkstream.eval.vpq import VideoPanopticQuality, VideoPanopticScores

TOTAL = "total"
_HEADLINE = ("stq", "aq", "sq", "dstq", "dq", "vpq", "dvpq")
"""Table columns, in order; those not computed are left out."""


@dataclass(frozen=True)
class EvalResult:
    """Scores as fractions in [0, 1]; NaN where a score is undefined (e.g. no class to average).

    ``sequences`` maps each sequence to its scores; ``total`` holds the scores over all sequences,
    computed as the references do (pooled counts, not a mean of sequence scores).
    """

    metrics: tuple[str, ...]
    settings: dict[str, Any]
    sequences: dict[str, dict[str, float]]
    total: dict[str, float]
    diagnostics: dict[str, Any] | None = None
    """Per-class IoU and PQ, AQ by track size, untracked share, id switches (when asked for)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; NaN becomes null."""
        out = {
            "metrics": list(self.metrics),
            "settings": self.settings,
            "total": _json_safe(self.total),
            "sequences": {name: _json_safe(row) for name, row in self.sequences.items()},
        }
        if self.diagnostics is not None:
            out["diagnostics"] = self.diagnostics
        return out

    def format_table(self) -> str:
        """A per-sequence table in percent, the total last, then the window and threshold breakdown."""
        columns = [c for c in _HEADLINE if c in self.total]
        name_width = max(len(TOTAL), *(len(n) for n in self.sequences))
        header = f"{'sequence':<{name_width}}  {'frames':>6}" + "".join(f"  {c.upper():>6}" for c in columns)
        lines = [header, "-" * len(header)]
        rows = [*self.sequences.items(), (TOTAL, self.total)]
        for i, (name, row) in enumerate(rows):
            if i == len(rows) - 1:
                lines.append("-" * len(header))
            cells = "".join(f"  {_percent(row.get(c)):>6}" for c in columns)
            lines.append(f"{name:<{name_width}}  {int(row['frames']):>6}{cells}")
        details = self._breakdown()
        if details:
            lines += ["", "breakdown of the total (%):", *details]
        if self.diagnostics is not None:
            lines += ["", *format_diagnostics(self.diagnostics)]
        return "\n".join(lines)

    def _breakdown(self) -> list[str]:
        """One line per metric family: DQ per threshold, (D)VPQ things/stuff and per window and lambda."""
        groups: dict[str, list[str]] = {}
        for key, value in self.total.items():
            if key == "depth_abs_rel":
                groups.setdefault("DEPTH", []).append(f"abs-rel {value:.4f}")
                continue
            family, _, setting = key.partition("@")
            if not setting and not key.endswith(("_th", "_st")):
                continue
            if not setting:
                family, setting = key.rsplit("_", 1)
                setting = {"th": "things", "st": "stuff"}[setting]
            elif "," in setting:  # dvpq@k5,l0.25 -> the "dvpq l0.25" line
                window, lam = setting.split(",")
                family, setting = f"{family} {lam.replace('l', 'lambda=')}", window.replace("k", "k=")
            elif setting.startswith("l"):
                family, setting = f"{family} {setting.replace('l', 'lambda=')}", "mean"
            elif setting.startswith("k"):
                setting = setting.replace("k", "k=")
            else:
                setting = f"@{setting}"
            groups.setdefault(family.upper().replace("LAMBDA", "lambda"), []).append(
                f"{setting} {_percent(value)}"
            )
        width = max((len(name) for name in groups), default=0)
        return [f"  {name:<{width}}  " + "   ".join(cells) for name, cells in groups.items()]


def build_result(
    metrics: tuple[str, ...],
    settings: dict[str, Any],
    stq: SegmentationTrackingQuality | None,
    vpq: VideoPanopticQuality | None,
    dvpq: VideoPanopticQuality | None,
) -> EvalResult:
    sources = [m for m in (stq, vpq, dvpq) if m is not None]
    names = list(dict.fromkeys(name for m in sources for name in m.sequences))
    rows: dict[str, dict[str, float]] = {name: {} for name in names}
    total: dict[str, float] = {}
    if stq is not None:
        per_sequence = stq.per_sequence()
        for name in names:
            rows[name].update(_stq_row(per_sequence[name], metrics))
        total.update(_stq_row(stq.total(), metrics))
    for metric, scorer in (("vpq", vpq), ("dvpq", dvpq)):
        if scorer is None:
            continue
        per_sequence_vpq = scorer.per_sequence()
        for name in names:
            rows[name].update(_vpq_row(metric, per_sequence_vpq[name]))
        total.update(_vpq_row(metric, scorer.total()))
    return EvalResult(metrics, settings, rows, total)


def _stq_row(scores: SequenceScores, metrics: tuple[str, ...]) -> dict[str, float]:
    row = {"frames": float(scores.frames), "tracks": float(scores.tracks)}
    if "stq" in metrics:
        row.update(stq=scores.stq, aq=scores.aq, sq=scores.sq)
    if scores.dq is not None and scores.dq_at is not None:
        row.update(dstq=float(scores.dstq or 0.0), dq=scores.dq)
        row.update({f"dq@{t:g}": v for t, v in scores.dq_at.items()})
        row["depth_abs_rel"] = float("nan") if scores.abs_rel is None else scores.abs_rel
        if "stq" not in metrics:
            row.update(aq=scores.aq, sq=scores.sq)
    return row


def _vpq_row(metric: str, scores: VideoPanopticScores) -> dict[str, float]:
    row = {
        "frames": float(scores.frames),
        metric: scores.value,
        f"{metric}_th": scores.mean("pq_things"),
        f"{metric}_st": scores.mean("pq_stuff"),
    }
    lambdas = sorted({lam for lam, _ in scores.by_setting if lam is not None}, reverse=True)
    for (lam, k), pq in scores.by_setting.items():
        row[f"{metric}@k{k}" if lam is None else f"{metric}@k{k},l{lam:g}"] = pq.pq
    for lam in lambdas:
        values = [pq.pq for (la, _), pq in scores.by_setting.items() if la == lam and not math.isnan(pq.pq)]
        row[f"{metric}@l{lam:g}"] = sum(values) / len(values) if values else math.nan
    return row


def _percent(value: float | None) -> str:
    if value is None:
        return "-"
    return "n/a" if math.isnan(value) else f"{100.0 * value:.1f}"


def _json_safe(row: dict[str, float]) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {}
    for key, value in row.items():
        if key in ("frames", "tracks"):
            out[key] = int(value)
        else:
            out[key] = None if math.isnan(value) else float(value)
    return out
