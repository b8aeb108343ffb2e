"""Test-only nodes, loaded by import path inside Ray actors."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from vkstream.data import CITYSCAPES
from vkstream.nodes.node import DEPTH, IMAGE, PANOPTIC, Node, NodeContext, Packet, Port, ports
from vkstream.wire import Panoptic


class SlowOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_s: float = 0.1


class SlowNode(Node):
    """Stands in for a model that cannot keep up: a fixed delay per batch, a one-class result."""

    inputs = ports(image=Port(IMAGE))
    outputs = ports(panoptic=Port(PANOPTIC), depth=Port(DEPTH))
    Options = SlowOptions

    def __init__(self, options: SlowOptions, context: NodeContext) -> None:
        super().__init__(options, context)
        self.forgotten: list[str] = []

    def process(self, packets: list[Packet]) -> list[Packet]:
        time.sleep(self.options.delay_s)
        for p in packets:
            h, w = p.inputs["image"].shape[:2]
            p.outputs["panoptic"] = Panoptic(
                np.zeros((h, w), np.uint8), np.zeros((h, w), np.int32), CITYSCAPES
            )
            p.outputs["depth"] = np.ones((h, w), np.float32)
        return packets

    def forget(self, stream: str) -> None:
        self.forgotten.append(stream)

    def report(self) -> dict[str, list[str]]:
        return {"forgotten": self.forgotten}


class ThreadNode(SlowNode):
    """Reports which threads built it and ran it: an actor's torch work must stay on one thread."""

    def __init__(self, options: SlowOptions, context: NodeContext) -> None:
        super().__init__(options, context)
        self.built_on = threading.get_ident()
        self.runs_on: set[int] = set()

    def process(self, packets: list[Packet]) -> list[Packet]:
        self.runs_on.add(threading.get_ident())
        return super().process(packets)

    def report(self) -> dict[str, Any]:
        return {"built_on": self.built_on, "runs_on": sorted(self.runs_on)}
