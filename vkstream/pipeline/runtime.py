"""The pipeline: starts the node actors and the streams' ingest on Ray, and controls them while running.

Thread-safe, so the control endpoint can attach and detach streams while ``vkstream run`` reports.
Node actors are restartable: Ray reruns a dead actor's constructor, upstream calls reach the new
process, and the stateful nodes flag ``state_reset`` on the streams whose state was lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError

from vkstream.pipeline.actors import CONTROL_CONCURRENCY, IngestActor, StageActor
from vkstream.pipeline.config import PipelineConfig, StreamSpec
from vkstream.pipeline.ingest import is_flow_controlled
from vkstream.pipeline.plan import ActorPlan, missing_resources, plan_actors
from vkstream.pipeline.stage_runner import first_line

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 10.0
ENDED = ("finished", "stopped", "failed")
"""Ingest states after which a stream produces no more frames."""


class PipelineError(Exception):
    """The pipeline cannot start or do what was asked; the message is one line."""


@dataclass
class _Stream:
    spec: StreamSpec
    actor: Any
    attached_ns: int


class Pipeline:
    """``start()``, then ``attach``/``detach``/``stats``/``wait``; ``shutdown()`` (or use ``with``)."""

    def __init__(self, config: PipelineConfig, *, address: str | None = None) -> None:
        self.config = config
        self.address = address if address is not None else config.ray.address
        self.plans: list[ActorPlan] = []
        self._actors: list[Any] = []
        self._actor_names: list[str] = []
        self._streams: dict[str, _Stream] = {}
        self._finished: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._owns_ray = False
        self._started = False

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Pipeline:
        cfg = self.config
        self._init_ray()
        try:
            resources = ray.cluster_resources()
            self.plans = plan_actors(cfg, resources.get("GPU", 0.0))
            problems = missing_resources(self.plans, resources)
            if problems:
                raise PipelineError("; ".join(problems))
            downstream = None
            actors = []
            for plan in reversed(self.plans):
                name = f"{cfg.name}-{plan.name}"
                actor = StageActor.options(
                    name=name,
                    max_concurrency=CONTROL_CONCURRENCY,
                    max_restarts=cfg.ray.max_restarts,
                    max_task_retries=0,
                    num_cpus=plan.resources.num_cpus,
                    num_gpus=plan.resources.num_gpus,
                    resources=dict(plan.resources.custom) or None,
                ).remote(
                    plan.name,
                    list(plan.nodes),
                    plan.device,
                    downstream,
                    plan.batching,
                    cfg.backpressure.max_pending,
                    cfg.telemetry,
                )
                actors.append(actor)
                downstream = name
            self._actors = list(reversed(actors))
            self._actor_names = [f"{cfg.name}-{p.name}" for p in self.plans]
            self._started = True
            self._wait_ready()
            for spec in cfg.streams:
                self.attach(spec)
        except BaseException:
            self.shutdown()
            raise
        return self

    def _init_ray(self) -> None:
        if ray.is_initialized():
            return
        cfg = self.config.ray
        options: dict[str, Any] = {
            "namespace": cfg.namespace,
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": True,
        }
        if self.address:
            options["address"] = self.address
        else:
            options["num_cpus"] = cfg.num_cpus or os.cpu_count() or 1
            if cfg.num_gpus is not None:
                options["num_gpus"] = cfg.num_gpus
        try:
            ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
            raise PipelineError(f"cannot start or join {where}: {first_line(exc)}") from None
        self._owns_ray = True

    def _wait_ready(self) -> None:
        timeout = self.config.ray.start_timeout_s
        refs = [a.ready.remote() for a in self._actors]
        try:
            errors = ray.get(refs, timeout=timeout)
        except GetTimeoutError:
            raise PipelineError(
                f"node actors did not start within {timeout:g} s (are the resources they ask for free?)"
            ) from None
        except RayError as exc:
            raise PipelineError(f"a node actor failed to start: {first_line(exc)}") from None
        for error in errors:
            if error:
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
                self._stop_ingest(self._streams.pop(stream_id))
            for actor in self._actors:
                with contextlib.suppress(RayError):  # a dead actor has nothing to close
                    ray.get(actor.close.remote(), timeout=CALL_TIMEOUT_S)
                ray.kill(actor, no_restart=True)
            self._actors = []
            self._started = False
            if self._owns_ray and ray.is_initialized():
                ray.shutdown()
                self._owns_ray = False
            return final

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ---- streams -------------------------------------------------------------------------------

    def attach(self, spec: StreamSpec | dict[str, Any]) -> None:
        """Start a stream; its id must not be in use."""
        if not isinstance(spec, StreamSpec):
            spec = StreamSpec.model_validate(spec)
        with self._lock:
            self._require_started()
            if spec.id in self._streams:
                raise PipelineError(f"stream {spec.id!r} is already attached")
            flow = is_flow_controlled(spec)
            actor = IngestActor.options(
                name=f"{self.config.name}-source-{spec.id}",
                max_concurrency=CONTROL_CONCURRENCY,
                max_restarts=self.config.ray.max_restarts,
                num_cpus=spec.resources.num_cpus,
                num_gpus=spec.resources.num_gpus,
                resources=dict(spec.resources.custom) or None,
            ).remote(spec, self._actor_names[0], self.config.backpressure.max_in_flight if flow else None)
            if flow:
                ray.get(self._actors[-1].register_source.remote(spec.id, actor), timeout=CALL_TIMEOUT_S)
            self._finished.pop(spec.id, None)
            self._streams[spec.id] = _Stream(spec, actor, time.time_ns())
            log.info("attached stream %r", spec.id)

    def detach(self, stream_id: str) -> dict[str, Any]:
        """Stop a stream and free its state in every actor; returns its last figures."""
        with self._lock:
            self._require_started()
            stream = self._streams.pop(stream_id, None)
            if stream is None:
                raise PipelineError(f"no stream {stream_id!r} is attached (attached: {self._names()})")
            before = self._stream_stats(stream_id)
            status = self._stop_ingest(stream)
            reports: dict[str, Any] = {}
            for actor in self._actors:
                try:
                    reports.update(ray.get(actor.forget.remote(stream_id), timeout=CALL_TIMEOUT_S))
                except RayError as exc:
                    log.warning("an actor could not forget stream %r: %s", stream_id, first_line(exc))
            final = {**before, "source": status, "reports": reports}
            self._finished[stream_id] = final
            log.info("detached stream %r", stream_id)
            return final

    def _stop_ingest(self, stream: _Stream) -> dict[str, Any]:
        try:
            status = ray.get(stream.actor.stop.remote(), timeout=CALL_TIMEOUT_S)
        except RayError as exc:
            status = {"state": "lost", "last_error": first_line(exc)}
        ray.kill(stream.actor, no_restart=True)
        return status

    def stream_ids(self) -> list[str]:
        with self._lock:
            return list(self._streams)

    def _names(self) -> str:
        return ", ".join(self._streams) or "none"

    def _require_started(self) -> None:
        if not self._started:
            raise PipelineError("the pipeline is not running")

    # ---- figures -------------------------------------------------------------------------------

    def sources(self) -> dict[str, dict[str, Any]]:
        """Each attached stream's ingest status (state, frames, reconnects, last error)."""
        with self._lock:
            streams = dict(self._streams)
        refs = {sid: s.actor.status.remote() for sid, s in streams.items()}
        out = {}
        for sid, ref in refs.items():
            try:
                out[sid] = ray.get(ref, timeout=CALL_TIMEOUT_S)
            except RayError as exc:
                out[sid] = {"stream": sid, "state": "restarting", "last_error": first_line(exc)}
        return out

    def actor_stats(self) -> list[dict[str, Any]]:
        refs = [a.stats.remote() for a in self._actors]
        out = []
        for plan, ref in zip(self.plans, refs, strict=True):
            try:
                out.append(ray.get(ref, timeout=CALL_TIMEOUT_S))
            except RayError as exc:
                out.append({"actor": plan.name, "error": first_line(exc)})
        return out

    def stats(self) -> dict[str, Any]:
        """Per stream: ingest status, drops per actor, latency percentiles; plus node reports."""
        with self._lock:
            self._require_started()
            sources = self.sources()
            actors = self.actor_stats()
            telemetry = actors[-1].get("telemetry") or {}
            streams: dict[str, Any] = {}
            for sid in sorted(set(sources) | set(telemetry)):
                dropped = {a["actor"]: a.get("dropped", {}).get(sid, 0) for a in actors if "dropped" in a}
                streams[sid] = {
                    "source": sources.get(sid),
                    "dropped": {k: v for k, v in dropped.items() if v},
                    **telemetry.get(sid, {"frames": 0, "rate_hz": 0.0, "latency_ms": {}}),
                }
            reports: dict[str, Any] = {}
            for a in actors:
                reports.update(a.get("reports", {}))
            return {
                "streams": streams,
                "actors": [{k: v for k, v in a.items() if k not in ("telemetry", "reports")} for a in actors],
                "reports": reports,
                "detached": dict(self._finished),
            }

    def _stream_stats(self, stream_id: str) -> dict[str, Any]:
        try:
            return self.stats()["streams"].get(stream_id, {})
        except RayError:
            return {}

    def idle(self) -> bool:
        """No stream is producing and every actor has finished its frames."""
        sources = self.sources()
        if any(s.get("state") not in ENDED for s in sources.values()):
            return False
        try:
            return all(ray.get([a.idle.remote() for a in self._actors], timeout=CALL_TIMEOUT_S))
        except RayError:
            return False

    def wait(self, timeout: float | None = None, poll_s: float = 0.25) -> bool:
        """Wait until every stream's source has finished and its frames are published; False on timeout.

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
