"""Test-only nodes, loaded by import path inside Ray actors."""

from __future__ import annotations

import time

import numpy as np

from vkstream.nodes.packet import Packet


class SlowNode:
    """Stands in for a model that cannot keep up: a fixed delay per batch, a one-class result."""

    def __init__(self, delay_s: float = 0.1) -> None:
        self.delay_s = delay_s
        self.forgotten: list[str] = []

    def process(self, packets: list[Packet]) -> list[Packet]:
        time.sleep(self.delay_s)
        for p in packets:
            h, w = p.data.pop("image").shape[:2]
            p.data["panoptic"] = np.zeros((h, w), np.uint32)
            p.data["depth"] = np.ones((h, w), np.float32)
        return packets

    def forget(self, stream: str) -> None:
        self.forgotten.append(stream)

    def close(self) -> None:
        pass

    def report(self) -> dict[str, list[str]]:
        return {"forgotten": self.forgotten}
