"""The online evaluator: scores every frame it gets against the replay's ground truth, as it goes.

It takes the prediction from the model and the ground truth straight from the stream's ingest, so the
labels never pass through the model's actor. Each pass over a sequence is its own evaluation sequence
(``cam0#1``, then ``cam0#2`` after a loop, a reconnect or a state reset); frames without ground truth
(live cameras) are passed by. The label space (how many classes, which are things) is the model's.
The scores so far are saved after every batch that scored a frame (:class:`NodeState`), so an
evaluator restarted with its actor goes on from them instead of from nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vkstream.data.frame import Frame
from vkstream.data.labels import LabelSpace
from vkstream.eval import EvalError, Evaluator, parse_metrics
from vkstream.nodes.node import DEPTH, PANOPTIC, TRUTH, Node, NodeContext, Packet, Port, ports
from vkstream.wire import Panoptic, wrap_track_ids

log = logging.getLogger(__name__)


class EvaluateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: tuple[str, ...] = Field(
        default=("stq", "dstq"), description="metrics to compute: stq, dstq, vpq, dvpq"
    )

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return parse_metrics(value)  # unknown names fail here, before the node starts


class EvaluateNode(Node):
    inputs = ports(panoptic=Port(PANOPTIC), depth=Port(DEPTH), truth=Port(TRUTH))
    Options = EvaluateOptions

    def __init__(self, options: EvaluateOptions, context: NodeContext) -> None:
        super().__init__(options, context)
        saved = context.state.load() or {}
        self._evaluator: Evaluator | None = saved.get("evaluator")
        self._labels: LabelSpace | None = saved.get("labels")
        self._runs: dict[str, tuple[int, int]] = saved.get("runs", {})
        """Stream -> (the ingest's epoch, evaluation run number)."""
        self._errors = 0

    def _save(self) -> None:
        self.context.state.save({"evaluator": self._evaluator, "labels": self._labels, "runs": self._runs})

    def process(self, packets: list[Packet]) -> list[Packet]:
        scored = False
        for p in packets:
            truth: Frame | None = p.inputs["truth"]
            if truth is None:
                continue
            scored = True
            epoch, run = self._runs.get(p.stream, (p.epoch, 0))
            if p.restart or p.state_reset or p.epoch != epoch or run == 0:
                run += 1
            self._runs[p.stream] = (p.epoch, run)
            try:
                self._score(p.inputs["panoptic"], p.inputs["depth"], truth, f"{p.stream}#{run}")
            except EvalError as exc:
                self._errors += 1
                # Once, not per frame: a replay without depth, say, fails every frame the same way.
                level = logging.ERROR if self._errors == 1 else logging.DEBUG
                log.log(level, "stream %r frame %d not scored: %s", p.stream, p.seq, exc)
        if scored:
            self._save()
        return packets

    def _score(self, panoptic: Panoptic, depth: Any, truth: Frame, sequence: str) -> None:
        if self._evaluator is None:
            labels = self._labels = panoptic.labels
            self._evaluator = Evaluator(
                self.options.metrics, num_classes=labels.num_classes, thing_ids=labels.thing_ids
            )
        elif panoptic.labels != self._labels:
            raise EvalError("the prediction's label space changed while evaluating")
        prediction = Frame(
            sequence=truth.sequence,
            index=truth.index,
            timestamp=truth.timestamp,
            semantic=panoptic.classes,
            instance=wrap_track_ids(panoptic.tracks),
            depth=depth,
        )
        self._evaluator.update(truth, prediction, sequence)

    def forget(self, stream: str) -> None:
        self._runs.pop(stream, None)
        self._save()

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = {}
        if self._evaluator is not None and self._evaluator.frames:
            result = self._evaluator.result()
            report["evaluation"] = {
                "frames": self._evaluator.frames,
                "table": result.format_table(),
                **result.to_json(),
            }
        if self._errors:
            report["evaluation_errors"] = self._errors
        return report
