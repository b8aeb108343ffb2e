"""The body of a node actor: an inbox, a worker thread running its (fused) nodes, and an outlet.

The worker takes a batch, runs it through the actor's nodes in order (tensors stay in this process
between fused nodes) and sends the result on; the last actor records telemetry and tells flow-
controlled replays that their frames are done. Ray calls (``push``, ``forget``, ``stats``) run on
other threads of the same actor.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from vkstream.nodes.packet import Packet, StageTiming
from vkstream.pipeline.config import BatchingConfig, NodeSpec, TelemetryConfig
from vkstream.pipeline.inbox import Inbox
from vkstream.pipeline.node import Node, build_node, node_report
from vkstream.pipeline.outlet import Outlet
from vkstream.pipeline.telemetry import Telemetry

log = logging.getLogger(__name__)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class StageRunner:
    def __init__(
        self,
        name: str,
        nodes: list[NodeSpec],
        device: str | None,
        downstream: Any | None,
        batching: BatchingConfig,
        max_pending: int,
        telemetry: TelemetryConfig,
    ) -> None:
        self.name = name
        self.batching = batching
        self.error: str | None = None
        self._names = [n.name for n in nodes]
        self._nodes: list[Node] = []
        try:
            for spec in nodes:
                options = dict(spec.options)
                if device is not None:
                    options.setdefault("device", device)
                self._nodes.append(build_node(spec.type, options))
        except Exception as exc:  # reported by ready(), so the driver can name the node
            self.error = f"node {spec.name!r} ({spec.type}) failed to start: {first_line(exc)}"
            log.exception("actor %s: %s", name, self.error)
        self._inbox = Inbox(max_pending)
        self._outlet = Outlet(downstream, "push") if downstream is not None else None
        self._telemetry = Telemetry(telemetry.window, telemetry.skip_first) if downstream is None else None
        self._acks: dict[str, Outlet] = {}
        self._node_lock = threading.Lock()
        self._busy = False
        self._errors = 0
        self._batches = 0
        self._frames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name=f"vkstream-{name}", daemon=True)
        if self.error is None:
            self._thread.start()

    # ---- called by Ray ---------------------------------------------------------------------------

    def ready(self) -> str | None:
        """None once the nodes are built; otherwise why they are not."""
        return self.error

    def push(self, packets: list[Packet]) -> None:
        self._inbox.put(packets)

    def register_source(self, stream: str, handle: Any) -> None:
        """A replay that waits for its frames to be done instead of dropping them (sink actor only)."""
        self._acks[stream] = Outlet(handle, "completed")

    def forget(self, stream: str) -> dict[str, Any]:
        """Free the stream everywhere in this actor; returns the nodes' reports after it."""
        self._inbox.forget(stream)
        self._acks.pop(stream, None)
        with self._node_lock:
            for node in self._nodes:
                try:
                    node.forget(stream)
                except Exception:
                    log.exception("node of actor %s could not forget stream %r", self.name, stream)
        if self._telemetry is not None:
            self._telemetry.forget(stream)
        return self.reports()

    def idle(self) -> bool:
        return not self._busy and self._inbox.pending() == 0

    def reports(self) -> dict[str, Any]:
        with self._node_lock:
            out = {}
            for name, node in zip(self._names, self._nodes, strict=False):
                try:
                    report = node_report(node)
                except Exception as exc:
                    report = {"error": first_line(exc)}
                if report:
                    out[name] = report
            return out

    def stats(self) -> dict[str, Any]:
        return {
            "actor": self.name,
            "pending": self._inbox.pending(),
            "dropped": self._inbox.dropped(),
            "late": self._inbox.late(),
            "batches": self._batches,
            "frames": self._frames,
            "mean_batch": self._frames / self._batches if self._batches else 0.0,
            "errors": self._errors,
            "send_failures": self._outlet.failed if self._outlet else 0,
            "telemetry": self._telemetry.snapshot() if self._telemetry is not None else None,
            "reports": self.reports(),
        }

    def close(self) -> None:
        self._stop.set()
        self._inbox.close()
        if self._thread.is_alive():
            self._thread.join(10.0)
        with self._node_lock:
            for node in self._nodes:
                try:
                    node.close()
                except Exception:
                    log.exception("node of actor %s failed to close", self.name)
            self._nodes = []

    # ---- the worker thread -----------------------------------------------------------------------

    def _work(self) -> None:
        max_wait = self.batching.max_wait_ms / 1000
        while not self._stop.is_set():
            batch = self._inbox.take_batch(int(self.batching.max_batch), max_wait)
            if not batch:
                continue
            self._busy = True
            try:
                self._run(batch)
            finally:
                self._busy = False

    def _run(self, batch: list[Packet]) -> None:
        start_ns = time.time_ns()
        waits = {id(p): (start_ns - p.sent_ns) / 1e6 if p.sent_ns else 0.0 for p in batch}
        self._batches += 1
        self._frames += len(batch)
        with self._node_lock:
            for i, (name, node) in enumerate(zip(self._names, self._nodes, strict=True)):
                t0 = time.perf_counter()
                try:
                    batch = node.process(batch)
                except Exception:
                    self._errors += 1
                    log.exception(
                        "node %r failed on a batch of %d frame(s); they are dropped", name, len(batch)
                    )
                    return
                compute_ms = (time.perf_counter() - t0) * 1000
                for p in batch:
                    p.timings.append(StageTiming(name, waits.get(id(p), 0.0) if i == 0 else 0.0, compute_ms))
                if not batch:
                    return
        if self._outlet is not None:
            for p in batch:
                p.mark_sent()
            self._outlet.send(batch)
            return
        assert self._telemetry is not None
        self._telemetry.record(batch)
        for p in batch:
            ack = self._acks.get(p.stream)
            if ack is not None:
                ack.send(p.seq)
