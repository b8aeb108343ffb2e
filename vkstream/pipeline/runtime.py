"""The pipeline: starts the node actors and the streams' ingest on Ray, and controls them while running.

Thread-safe, so the control endpoint can attach and detach streams while ``vkstream run`` reports.
Node actors are restartable: Ray reruns a dead actor's constructor, upstream calls reach the new
process, and the stateful nodes flag ``state_reset`` on the streams whose state was lost. What a node
saves (a publisher's port and counts, the online scores) is kept in the pipeline's state store actor
and loaded back by the restarted node.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError

from vkstream.pipeline.config import PipelineConfig, Resources, StreamSpec
from vkstream.pipeline.ingest import IngestActor, is_flow_controlled
from vkstream.pipeline.plan import ActorPlan, Plan, Route, missing_resources, plan_actors
from vkstream.pipeline.stage_runner import CONTROL_CONCURRENCY, StageActor, first_line
from vkstream.pipeline.state import StateStore

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 10.0
ENDED = ("finished", "stopped", "failed")
"""Ingest states after which a stream produces no more frames."""


class PipelineError(Exception):
    """The pipeline cannot start or do what was asked; the message is one line."""


def _options(name: str, resources: Resources, max_restarts: int) -> dict[str, Any]:
    """Ray options of a pipeline actor: its name, what it asks for, threads for calls, restarts."""
    return {
        "name": name,
        "num_cpus": resources.num_cpus,
        "num_gpus": resources.num_gpus,
        "resources": dict(resources.custom) or None,
        "max_concurrency": CONTROL_CONCURRENCY,
        "max_restarts": max_restarts,
    }


class Pipeline:
    """``start()``, then ``attach``/``detach``/``stats``/``wait``; ``shutdown()`` (or use ``with``)."""

    def __init__(self, config: PipelineConfig, *, address: str | None = None) -> None:
        self.config = config
        self.address = address if address is not None else config.ray.address
        self.plan = Plan((), ())
        self.plans: list[ActorPlan] = []
        self._actors: list[Any] = []
        self._store: Any = None
        self._sinks: list[Any] = []
        self._streams: dict[str, tuple[StreamSpec, Any]] = {}
        self._finished: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._owns_ray = False
        self._started = False

    def start(self) -> Pipeline:
        cfg = self.config
        self._init_ray()
        try:
            resources = ray.cluster_resources()
            self.plan = plan_actors(cfg, resources.get("GPU", 0.0))
            self.plans = list(self.plan.actors)
            problems = missing_resources(self.plan, resources)
            if problems:
                raise PipelineError("; ".join(problems))
            store = self._name("#state")  # "#" is in no node name: no actor can take it
            self._store = StateStore.options(name=store, max_restarts=0).remote()
            for plan in reversed(self.plans):  # receivers first: senders look them up by name
                options = _options(self._name(plan.name), plan.resources, cfg.ray.max_restarts)
                actor = StageActor.options(max_task_retries=0, **options).remote(
                    plan,
                    self._routes(plan.routes),
                    cfg.backpressure.max_pending,
                    cfg.telemetry,
                    cfg.model,
                    store,
                )
                self._actors.insert(0, actor)
            self._sinks = [a for a, p in zip(self._actors, self.plans, strict=True) if not p.routes]
            self._started = True
            self._wait_ready()
            for spec in cfg.streams:
                self.attach(spec)
        except BaseException:
            self.shutdown()
            raise
        return self

    def _name(self, name: str) -> str:
        return f"{self.config.name}-{name}"

    def _routes(self, routes: tuple[Route, ...]) -> tuple[Route, ...]:
        return tuple((self._name(to), keys) for to, keys in routes)

    def _init_ray(self) -> None:
        if ray.is_initialized():
            return
        cfg = self.config.ray
        options: dict[str, Any] = {"namespace": cfg.namespace, "include_dashboard": False}
        if self.address:
            options["address"] = self.address
        else:
            options["num_cpus"] = cfg.num_cpus or os.cpu_count() or 1
            options.update(cfg.local_init_options())
            if cfg.num_gpus is not None:
                options["num_gpus"] = cfg.num_gpus
        try:
            ray.init(logging_level=logging.WARNING, log_to_driver=True, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
            raise PipelineError(f"cannot start or join {where}: {first_line(exc)}") from None
        self._owns_ray = True

    def _wait_ready(self) -> None:
        timeout = self.config.ray.start_timeout_s
        try:
            errors = ray.get([a.ready.remote() for a in self._actors], timeout=timeout)
        except GetTimeoutError:
            raise PipelineError(
                f"node actors did not start within {timeout:g} s (are the resources they ask for free?)"
            ) from None
        except RayError as exc:
            raise PipelineError(f"a node actor failed to start: {first_line(exc)}") from None
        for error in filter(None, errors):
            raise PipelineError(error)

    def shutdown(self) -> dict[str, Any]:
        """Stop every stream and actor; returns the final stats. Safe to call twice."""
        with self._lock:
            final: dict[str, Any] = {}
            if self._started:
                try:
                    final = self.stats()
                except Exception:
                    log.debug("no final stats", exc_info=True)
            for stream_id in list(self._streams):
                self._stop_ingest(self._streams.pop(stream_id)[1])
            for actor in self._actors:
                with contextlib.suppress(RayError):  # a dead actor has nothing to close
                    ray.get(actor.close.remote(), timeout=CALL_TIMEOUT_S)
                ray.kill(actor, no_restart=True)
            if self._store is not None:
                ray.kill(self._store, no_restart=True)
            self._actors, self._sinks, self._started, self._store = [], [], False, None
            if self._owns_ray and ray.is_initialized():
                ray.shutdown()
                self._owns_ray = False
            return final

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def attach(self, spec: StreamSpec | dict[str, Any]) -> None:
        """Start a stream; its id must not be in use."""
        if not isinstance(spec, StreamSpec):
            spec = StreamSpec.model_validate(spec)
        with self._lock:
            self._require_started()
            if spec.id in self._streams:
                raise PipelineError(f"stream {spec.id!r} is already attached")
            flow = is_flow_controlled(spec)
            options = _options(self._name(f"source-{spec.id}"), spec.resources, self.config.ray.max_restarts)
            actor = IngestActor.options(**options).remote(
                spec,
                self._routes(self.plan.ingest),
                self.plan.sinks,
                self.config.backpressure.max_in_flight if flow else None,
            )
            if flow:
                ray.get(
                    [s.register_source.remote(spec.id, actor) for s in self._sinks], timeout=CALL_TIMEOUT_S
                )
            self._finished.pop(spec.id, None)
            self._streams[spec.id] = (spec, actor)
            log.info("attached stream %r", spec.id)

    def detach(self, stream_id: str) -> dict[str, Any]:
        """Stop a stream and free its state in every actor; returns its last figures."""
        with self._lock:
            self._require_started()
            if stream_id not in self._streams:
                attached = ", ".join(self._streams) or "none"
                raise PipelineError(f"no stream {stream_id!r} is attached (attached: {attached})")
            try:
                before = self.stats()["streams"].get(stream_id, {})
            except RayError:
                before = {}
            status = self._stop_ingest(self._streams.pop(stream_id)[1])
            epoch = status.pop("epoch", None)  # a lost ingest: each actor retires the latest it saw
            reports: dict[str, Any] = {}
            forgets = [a.forget.remote(stream_id, epoch) for a in self._actors]
            for report in self._gather(forgets, lambda i, e: {}):
                reports.update(report)
            self._finished[stream_id] = {**before, "source": status, "reports": reports}
            log.info("detached stream %r", stream_id)
            return self._finished[stream_id]

    def _stop_ingest(self, actor: Any) -> dict[str, Any]:
        try:
            status = ray.get(actor.stop.remote(), timeout=CALL_TIMEOUT_S)
        except RayError as exc:
            status = {"state": "lost", "last_error": first_line(exc)}
        ray.kill(actor, no_restart=True)
        return status

    def stream_ids(self) -> list[str]:
        with self._lock:
            return list(self._streams)

    def _require_started(self) -> None:
        if not self._started:
            raise PipelineError("the pipeline is not running")

    @staticmethod
    def _gather(refs: list[Any], failed: Callable[[int, str], Any]) -> list[Any]:
        """Each call's result; ``failed(index, error line)`` for a call that failed or timed out."""
        out = []
        for i, ref in enumerate(refs):
            try:
                out.append(ray.get(ref, timeout=CALL_TIMEOUT_S))
            except RayError as exc:
                out.append(failed(i, first_line(exc)))
        return out

    def sources(self) -> dict[str, dict[str, Any]]:
        """Each attached stream's ingest status (state, frames, reconnects, last error)."""
        with self._lock:
            streams = dict(self._streams)
        ids = list(streams)
        refs = [actor.status.remote() for _, actor in streams.values()]
        lost = self._gather(
            refs, lambda i, error: {"stream": ids[i], "state": "restarting", "last_error": error}
        )
        return dict(zip(ids, lost, strict=True))

    def actor_stats(self) -> list[dict[str, Any]]:
        refs = [a.stats.remote() for a in self._actors]
        return self._gather(refs, lambda i, error: {"actor": self.plans[i].name, "error": error})

    def stats(self) -> dict[str, Any]:
        """Per stream: ingest status, drops per actor, latency percentiles; plus node reports.

        Latencies are the sinks': ``e2e`` is capture to the end of the first sink in the config (the
        publisher, usually), ``NODE.e2e`` to the end of every other sink's last node.
        """
        with self._lock:
            self._require_started()
            sources, actors = self.sources(), self.actor_stats()
            telemetry: dict[str, Any] = {}
            sinks = [
                (p, a) for p, a in zip(self.plans, actors, strict=True) if a.get("telemetry") is not None
            ]
            for i, (plan, figures) in enumerate(sinks):
                for sid, stream in figures["telemetry"].items():
                    latency = dict(stream["latency_ms"])
                    if i and "e2e" in latency:
                        latency[f"{plan.nodes[-1].name}.e2e"] = latency.pop("e2e")
                    into = telemetry.setdefault(sid, {**stream, "latency_ms": {}})
                    for key, summary in latency.items():  # the first sink's figures first
                        into["latency_ms"].setdefault(key, summary)
            streams = {}
            for sid in sorted(set(sources) | set(telemetry)):
                dropped = {a["actor"]: a.get("dropped", {}).get(sid, 0) for a in actors}
                streams[sid] = {
                    "source": sources.get(sid),
                    "dropped": {k: v for k, v in dropped.items() if v},
                    **telemetry.get(sid, {"frames": 0, "rate_hz": 0.0, "latency_ms": {}}),
                }
            return {
                "streams": streams,
                "actors": [{k: v for k, v in a.items() if k not in ("telemetry", "reports")} for a in actors],
                "reports": {name: r for a in actors for name, r in a.get("reports", {}).items()},
                "detached": dict(self._finished),
            }

    def idle(self) -> bool:
        """No stream is producing and every actor has finished its frames."""
        if any(s.get("state") not in ENDED for s in self.sources().values()):
            return False
        return all(self._gather([a.idle.remote() for a in self._actors], lambda i, error: False))

    def wait(self, timeout: float | None = None, poll_s: float = 0.25) -> bool:
        """Wait until every stream's source has finished and its frames are done; False on timeout.

        Live cameras never finish: with one attached, this waits for the timeout.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        idle_polls = 0
        while deadline is None or time.monotonic() < deadline:
            idle_polls = idle_polls + 1 if self.idle() else 0
            if idle_polls >= 2:  # twice in a row: a frame may have been on its way between two actors
                return True
            time.sleep(poll_s)
        return False
