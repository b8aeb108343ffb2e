"""Fire-and-forget actor calls whose failures are counted, not raised, and whose backlog is bounded.

A frame handed downstream must not wait for the next actor, but an unchecked ObjectRef of a failed
call makes Ray print an "unhandled error" later; an Outlet collects finished calls and counts failures
(a restarting actor loses the frames sent to it, which the stream's seq numbers show downstream).
:class:`Routes` sends each receiving actor its part of a batch of frames.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

import ray
from ray.exceptions import RayError

from vkstream.nodes.node import Packet

log = logging.getLogger(__name__)


class Outlet:
    def __init__(self, handle: Any, method: str, max_outstanding: int = 64) -> None:
        self.handle = handle
        self.method = method
        self.max_outstanding = max_outstanding
        self.failed = 0
        self._refs: list[Any] = []
        self._lock = threading.Lock()

    def send(self, *args: Any) -> None:
        with self._lock:
            self._refs.append(getattr(self.handle, self.method).remote(*args))
            self._reap(0.0)
            if len(self._refs) > self.max_outstanding:
                self._reap(1.0)  # the receiver is gone or stuck: give it a moment, then let go
                if len(self._refs) > self.max_outstanding:
                    self.failed += len(self._refs) - self.max_outstanding
                    self._refs = self._refs[-self.max_outstanding :]

    def _reap(self, timeout: float) -> None:
        if not self._refs:
            return
        done, self._refs = ray.wait(self._refs, num_returns=len(self._refs), timeout=timeout)
        for ref in done:
            try:
                ray.get(ref)
            except RayError as exc:
                self.failed += 1
                log.debug("%s.%s failed: %s", self.handle, self.method, exc)


class Routes:
    """Where an actor's (or an ingest's) frames go: to each receiver, only the ``node.port`` keys it takes."""

    def __init__(self, sender: str, routes: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        self.sender = sender
        self._outlets = [(Outlet(ray.get_actor(to), "push"), keys) for to, keys in routes]

    def __bool__(self) -> bool:
        return bool(self._outlets)

    @property
    def failed(self) -> int:
        return sum(outlet.failed for outlet, _ in self._outlets)

    def send(self, packets: list[Packet]) -> None:
        for outlet, keys in self._outlets:
            parts = [replace(p, data={k: p.data[k] for k in keys}, timings=list(p.timings)) for p in packets]
            for part in parts:
                part.source = self.sender
                part.mark_sent()
            outlet.send(parts)
