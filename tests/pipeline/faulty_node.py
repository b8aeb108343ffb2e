"""A test-only node, loaded by import path inside a Ray actor: it hands on a frame Ray cannot send."""

from __future__ import annotations

import threading

from pydantic import BaseModel, ConfigDict

from tests.pipeline.slow_node import SlowNode
from vkstream.nodes.node import Packet


class UnsendableOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_s: float = 0.0
    seqs: list[int] = [2]
    """The frames given a value that cannot be pickled: sending them on fails, after the node."""


class UnsendableNode(SlowNode):
    Options = UnsendableOptions

    def process(self, packets: list[Packet]) -> list[Packet]:
        for p in packets:
            if p.seq in self.options.seqs:
                p.meta["lock"] = threading.Lock()
        return super().process(packets)
