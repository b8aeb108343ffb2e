"""A node actor: an inbox, a worker thread running its (fused) nodes, and its routes.

The worker takes a batch, runs it through the actor's nodes in order (each node's inputs wired from
what the packet carries; tensors stay in this process between fused nodes) and sends each receiving
actor the outputs it takes. A sink (an actor that sends nothing on) records telemetry and tells
flow-controlled replays that their frames are done. Ray calls (``push``, ``forget``, ``stats``) run
on other threads of the same actor, so a busy node never delays the frames queueing for it. The
actor is given its receivers' names, not their handles: a restarted actor reruns its constructor with
the same arguments, and a name still resolves then, whatever was restarted. What must outlive the
process (each node's saved state, which replays wait for acknowledgements) lives in the pipeline's
state store (:mod:`vkstream.pipeline.state`), from which a restarted actor loads it back. An error
outside a node (sending on, telemetry, acknowledgements) costs its batch, never the worker thread:
the actor would stay alive for Ray, so Ray would never restart it, while its streams stalled.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import ray

from vkstream.nodes.model_spec import ModelSpec
from vkstream.nodes.node import Node, NodeContext, NodeState, Packet, StageTiming
from vkstream.pipeline.config import TelemetryConfig
from vkstream.pipeline.graph import GraphNode
from vkstream.pipeline.inbox import Inbox
from vkstream.pipeline.outlet import Outlet, Routes
from vkstream.pipeline.plan import ActorPlan, Route
from vkstream.pipeline.state import StoredState
from vkstream.pipeline.telemetry import Telemetry

log = logging.getLogger(__name__)


CONTROL_CONCURRENCY = 8
"""Threads per actor for Ray calls; the work itself runs on the actor's own thread."""
FRAMES = "frames"
"""Frames are pushed through a concurrency group of one thread: Ray runs the calls of one caller in
the order they were made only where they cannot run concurrently, and a stream's order matters."""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _report(node: Node) -> dict[str, Any]:
    try:
        return dict(node.report())
    except Exception as exc:
        return {"error": first_line(exc)}


def quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@ray.remote(concurrency_groups={FRAMES: 1})
class StageActor:
    def __init__(
        self,
        plan: ActorPlan,
        routes: tuple[Route, ...],
        max_pending: int,
        telemetry: TelemetryConfig,
        model: ModelSpec | None,
        store: str | None = None,
    ) -> None:
        """``store``: the name of the pipeline's state store actor (None: state lives in this process)."""
        quiet_logging()
        self.name = plan.name
        self.batching = plan.batching
        self.error: str | None = None
        self._graph = plan.nodes
        self._nodes: list[Node] = []
        shared: dict[str, Any] = {}
        store_handle = None if store is None else ray.get_actor(store)

        def state(key: str) -> NodeState:
            return NodeState() if store_handle is None else StoredState(store_handle, key)

        self._state = state(f"{plan.name}/runtime")

        def build() -> None:
            try:
                for g in plan.nodes:
                    on_device = g.spec.device is not None or g.cls.uses_model
                    self._nodes.append(
                        g.cls(
                            g.options,
                            NodeContext(
                                g.name,
                                plan.device if on_device else None,
                                model,
                                shared,
                                state=state(g.name),
                                max_batch=int(plan.batching.max_batch),
                            ),
                        )
                    )
            except Exception as exc:  # reported by ready(), so the driver can name the node
                self.error = f"node {g.name!r} ({g.spec.type}) failed to start: {first_line(exc)}"
                log.exception("actor %s: %s", self.name, self.error)

        self._inbox = Inbox(max_pending, plan.sources)
        self._routes = Routes(plan.name, routes)
        self._telemetry = None if self._routes else Telemetry(telemetry.window, telemetry.skip_first)
        saved = self._state.load() or {}
        self._sources: dict[str, Any] = dict(saved.get("sources", {}))
        """Flow-controlled replays' ingest actors, by stream (kept in the store: a restarted sink must
        go on acknowledging, or each replay would wait out its stall timeout on every frame)."""
        self._acks = {stream: Outlet(handle, "completed") for stream, handle in self._sources.items()}
        self._node_lock = threading.Lock()
        self._busy = False
        self._errors = self._batches = self._frames = self._lost = 0
        self._stop = threading.Event()
        self._built = threading.Event()
        self._thread = threading.Thread(
            target=self._work, args=(build,), name=f"vkstream-{self.name}", daemon=True
        )
        self._thread.start()
        self._built.wait()

    def ready(self) -> str | None:
        """None once the nodes are built; otherwise why they are not."""
        return self.error

    @ray.method(concurrency_group=FRAMES)
    def push(self, packets: list[Packet]) -> None:
        self._inbox.put(packets)

    def pid(self) -> int:
        return os.getpid()

    def register_source(self, stream: str, handle: Any) -> None:
        """A replay that waits for its frames to be done instead of dropping them (sink actors only)."""
        self._acks[stream] = Outlet(handle, "completed")
        self._sources[stream] = handle
        self._state.save({"sources": dict(self._sources)})

    def forget(self, stream: str, epoch: int | None = None) -> dict[str, Any]:
        """Free the stream everywhere in this actor; returns the nodes' reports after it. Frames of
        the detached ingest (``epoch`` or earlier) that arrive later are discarded."""
        self._inbox.forget(stream, epoch)
        self._acks.pop(stream, None)
        if self._sources.pop(stream, None) is not None:
            self._state.save({"sources": dict(self._sources)})
        self._each("forget", stream)
        if self._telemetry is not None:
            self._telemetry.forget(stream)
        return self.reports()

    def idle(self) -> bool:
        return not self._busy and self._inbox.pending() == 0

    def reports(self) -> dict[str, Any]:
        with self._node_lock:
            reports = {g.name: _report(node) for g, node in zip(self._graph, self._nodes, strict=False)}
        return {name: report for name, report in reports.items() if report}

    def stats(self) -> dict[str, Any]:
        return {
            "actor": self.name,
            "node": ray.get_runtime_context().get_node_id(),
            "pending": self._inbox.pending(),
            "dropped": self._inbox.dropped(),
            "late": self._inbox.late(),
            "batches": self._batches,
            "frames": self._frames,
            "mean_batch": self._frames / self._batches if self._batches else 0.0,
            "errors": self._errors,
            "lost": self._lost,
            "cpu_s": time.process_time(),  # this process, every thread: what the actor costs the machine
            "send_failures": self._routes.failed,
            "telemetry": self._telemetry.snapshot() if self._telemetry is not None else None,
            "reports": self.reports(),
        }

    def close(self) -> None:
        self._stop.set()
        self._inbox.close()
        if self._thread.is_alive():
            self._thread.join(10.0)
        self._each("close")
        self._nodes = []

    def _each(self, method: str, *args: Any) -> None:
        """``method`` of every node, each failure logged, none stopping the others."""
        with self._node_lock:
            for g, node in zip(self._graph, self._nodes, strict=False):
                try:
                    getattr(node, method)(*args)
                except Exception:
                    log.exception("node %r failed to %s", g.name, method)

    def _work(self, build: Callable[[], None]) -> None:
        """Builds the nodes, then runs batches: every torch computation of the actor (loading and
        warming up a model included) runs on this one thread. OpenMP keeps a team of threads for each
        thread that starts parallel work; with two teams, more threads than cores, libgomp stops
        spinning between parallel regions, and on 2 cores the model ran at two thirds of its speed."""
        try:
            build()
        finally:
            self._built.set()
        if self.error is not None:
            return
        max_wait = self.batching.max_wait_ms / 1000
        while not self._stop.is_set():
            batch = self._inbox.take_batch(int(self.batching.max_batch), max_wait)
            if not batch:
                continue
            self._busy = True
            try:
                self._run(batch)
            except Exception:  # outside the nodes: the batch is lost (seq gaps show it), the thread lives
                self._errors += 1
                self._lost += len(batch)
                log.exception(
                    "actor %s: a batch of %d frame(s) failed after its nodes", self.name, len(batch)
                )
            finally:
                self._busy = False

    def _run(self, batch: list[Packet]) -> None:
        start_ns = time.time_ns()
        waits = {id(p): (start_ns - p.sent_ns) / 1e6 if p.sent_ns else 0.0 for p in batch}
        self._batches += 1
        self._frames += len(batch)
        with self._node_lock:
            for i, (g, node) in enumerate(zip(self._graph, self._nodes, strict=True)):
                for p in batch:
                    p.inputs = {port: p.data.get(ref) for port, ref in g.wiring.items()}
                    p.outputs = {}
                t0 = time.perf_counter()
                try:
                    batch = node.process(batch)
                except Exception:
                    self._errors += 1
                    log.exception(
                        "node %r failed on a batch of %d frame(s); they are dropped", g.name, len(batch)
                    )
                    return
                compute_ms = (time.perf_counter() - t0) * 1000
                batch = [p for p in batch if self._keep_outputs(g, p)]
                for p in batch:
                    p.timings.append(
                        StageTiming(g.name, waits.get(id(p), 0.0) if i == 0 else 0.0, compute_ms)
                    )
                if not batch:
                    return
        # Frames of a stream detached while they were in the nodes go no further.
        batch = [p for p in batch if not self._inbox.retired(p)]
        if not batch:
            return
        self._routes.send(batch)
        if self._telemetry is None:
            return
        self._telemetry.record(batch)
        for p in batch:
            ack = self._acks.get(p.stream)
            if ack is not None:
                ack.send(p.seq, self.name, p.epoch)

    def _keep_outputs(self, g: GraphNode, p: Packet) -> bool:
        """Files a node's outputs under ``node.port``; a packet lacking a declared output is left out."""
        missing = [port for port in g.cls.outputs if port not in p.outputs]
        if missing:
            self._errors += 1
            log.error(
                "stream %s seq %d: dropped, node %r gave no %s", p.stream, p.seq, g.name, ", ".join(missing)
            )
        else:
            p.data.update({f"{g.name}.{port}": value for port, value in p.outputs.items()})
        p.inputs, p.outputs = {}, {}
        return not missing
