"""The recording sink: every frame it gets into one MCAP file that Foxglove opens.

What is recorded is what a subscriber receives (the same wire result: wrapped track ids, float16
depth, the model's segments), plus the camera image when ``image`` is wired, and the intrinsics.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vkstream.nodes.node import DEPTH, IMAGE, PANOPTIC, Node, NodeContext, Packet, Port, ports
from vkstream.record import FoxgloveOutput
from vkstream.wire import FrameOutput, checked_output, stream_result

log = logging.getLogger(__name__)


class RecordOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(description="the MCAP file to write (*.mcap)")
    overwrite: bool = Field(default=True, description="replace an existing file (else refuse to start)")
    compression: Literal["lz4", "zstd", "none"] = Field(
        default="lz4", description="MCAP chunk compression (lz4: least CPU; zstd: smaller files)"
    )


class RecordNode(Node):
    inputs = ports(
        panoptic=Port(PANOPTIC),
        depth=Port(DEPTH),
        image=Port(IMAGE, "the camera frame, recorded under the results", optional=True),
    )
    Options = RecordOptions

    def __init__(self, options: RecordOptions, context: NodeContext) -> None:
        super().__init__(options, context)
        self._recorder = FoxgloveOutput(
            options.path, overwrite=options.overwrite, compression=options.compression
        )
        self._recorded: dict[str, tuple[int, int]] = {}
        """Stream -> (ingest epoch, frames recorded in it): seq gaps are the frames that never came."""

    def process(self, packets: list[Packet]) -> list[Packet]:
        out = []
        for p in packets:
            epoch, count = self._recorded.get(p.stream, (p.epoch, 0))
            if epoch != p.epoch:
                count = 0
            try:
                frame = checked_output(
                    FrameOutput(
                        p.stream,
                        p.seq,
                        p.stamp_ns,
                        p.inputs["panoptic"],
                        p.inputs["depth"],
                        p.meta.get("intrinsics"),
                        p.latency_ms(),
                        max(0, p.seq - count),
                        p.state_reset,
                    )
                )
                result = stream_result(frame, time.time_ns(), time.time_ns())
                self._recorder.add(result, p.inputs.get("image"), frame.intrinsics)
            except ValueError as exc:
                log.error("stream %r frame %d not recorded: %s", p.stream, p.seq, exc)
                continue
            self._recorded[p.stream] = (p.epoch, count + 1)
            out.append(p)
        return out

    def forget(self, stream: str) -> None:
        self._recorded.pop(stream, None)

    def report(self) -> dict[str, Any]:
        return {"path": str(self._recorder.path), "frames": self._recorder.messages}

    def close(self) -> None:
        self._recorder.close()
