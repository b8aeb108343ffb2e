"""The Ray actor classes: thin shells around :class:`StageRunner` and :class:`IngestRunner`.

Both are threaded actors: their work runs on their own thread while Ray calls (frames pushed in,
control, stats) arrive on others, so a busy node never delays the frames queueing for it.
"""

from __future__ import annotations

import logging
from typing import Any

import ray

from vkstream.nodes.packet import Packet
from vkstream.pipeline.config import StreamSpec
from vkstream.pipeline.ingest import IngestRunner
from vkstream.pipeline.outlet import Outlet
from vkstream.pipeline.stage_runner import StageRunner

CONTROL_CONCURRENCY = 8
"""Threads per actor for Ray calls; the work itself runs on the actor's own thread."""


def _quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _actor(name: str | None) -> Any:
    """The handle of a named actor of this pipeline's namespace.

    Actors are given their downstream's name, not its handle: a restarted actor reruns its
    constructor with the same arguments, and a name still resolves then, whatever was restarted.
    """
    return None if name is None else ray.get_actor(name)


FRAMES = "frames"
"""Frames are pushed through a concurrency group of one thread: Ray runs the calls of one caller in
the order they were made only where they cannot run concurrently, and a stream's order matters."""


@ray.remote(concurrency_groups={FRAMES: 1})
class StageActor(StageRunner):
    def __init__(self, name: str, nodes: Any, device: str | None, downstream: str | None, *args: Any) -> None:
        _quiet_logging()
        super().__init__(name, nodes, device, _actor(downstream), *args)

    @ray.method(concurrency_group=FRAMES)
    def push(self, packets: list[Packet]) -> None:
        super().push(packets)

    def pid(self) -> int:
        import os

        return os.getpid()


@ray.remote
class IngestActor:
    def __init__(self, spec: StreamSpec, downstream: str, max_in_flight: int | None) -> None:
        _quiet_logging()
        self._outlet = Outlet(_actor(downstream), "push")
        self._runner = IngestRunner(spec, self._send, max_in_flight)

    def _send(self, packets: list[Packet]) -> None:
        self._outlet.send(packets)

    def completed(self, seq: int) -> None:
        self._runner.completed(seq)

    def status(self) -> dict[str, Any]:
        return self._runner.status()

    def stop(self) -> dict[str, Any]:
        return self._runner.stop()

    def pid(self) -> int:
        import os

        return os.getpid()
