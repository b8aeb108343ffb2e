"""A node of one class: how much of each camera frame moved since the stream's previous frame."""

from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, Field

from vkstream.nodes.node import IMAGE, Node, NodeContext, Packet, Port, ports


class MotionOptions(BaseModel):
    threshold: int = Field(default=25, ge=1, le=255, description="grey-level change that counts as motion")


class MotionNode(Node):
    """Frame difference per stream: a mask of the pixels that changed, and the moving share per stream."""

    inputs = ports(image=Port(IMAGE))
    outputs = ports(motion=Port("motion/mask", "HxW uint8, 255 where the frame changed"))
    Options = MotionOptions

    def __init__(self, options: MotionOptions, context: NodeContext) -> None:
        super().__init__(options, context)
        self._previous: dict[str, np.ndarray] = {}
        self._moving: dict[str, list[float]] = {}

    def process(self, packets: list[Packet]) -> list[Packet]:
        for p in packets:
            grey = cv2.cvtColor(p.inputs["image"], cv2.COLOR_RGB2GRAY)
            before = None if p.restart else self._previous.get(p.stream)
            if before is None or before.shape != grey.shape:
                mask = np.zeros_like(grey)
            else:
                mask = np.where(cv2.absdiff(grey, before) >= self.options.threshold, 255, 0).astype(np.uint8)
                self._moving.setdefault(p.stream, []).append(float(np.mean(mask > 0)))
            self._previous[p.stream] = grey
            p.outputs["motion"] = mask
        return packets

    def forget(self, stream: str) -> None:
        self._previous.pop(stream, None)
        self._moving.pop(stream, None)

    def report(self) -> dict[str, Any]:
        return {s: {"frames": len(m), "moving": sum(m) / len(m)} for s, m in self._moving.items() if m}
