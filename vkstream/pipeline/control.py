"""The control endpoint: attach, detach and inspect a running pipeline over ZeroMQ REQ/REP.

Requests and replies are JSON objects, so any language (or ``vkstream ctl``) can drive it:
``{"op": "streams"}`` -> ``{"ok": true, "result": {...}}``, errors as ``{"ok": false, "error": "..."}``.
Ops: ``ping``, ``streams``, ``stats``, ``attach`` (``stream``: a stream config), ``detach`` (``id``),
``shutdown``. It binds loopback unless allowed otherwise, like the publisher.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import zmq
from pydantic import ValidationError

from vkstream.nodes.publisher import check_endpoint
from vkstream.pipeline.runtime import Pipeline, PipelineError

log = logging.getLogger(__name__)

OPS = ("ping", "streams", "stats", "attach", "detach", "shutdown")


class ControlError(Exception):
    """A control request failed: the endpoint is unreachable or answered with an error."""


class ControlServer:
    """Serves ``pipeline`` on a thread; ``on_shutdown`` is called for the ``shutdown`` op."""

    def __init__(
        self,
        pipeline: Pipeline,
        endpoint: str,
        *,
        allow_remote: bool = False,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        check_endpoint(endpoint, allow_remote)
        self.pipeline = pipeline
        self.on_shutdown = on_shutdown
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.REP)
        self._socket.setsockopt(zmq.LINGER, 0)
        try:
            self._socket.bind(endpoint)
        except zmq.ZMQError as exc:
            self._socket.close()
            self._context.term()
            raise PipelineError(f"cannot bind the control endpoint {endpoint}: {exc.strerror}") from None
        self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._stop = threading.Event()
        self._shutdown_asked = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="vkstream-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(100):
                continue
            raw = self._socket.recv()
            reply = self.handle(raw)
            self._socket.send(json.dumps(reply, default=str).encode())
            if self._shutdown_asked.is_set() and self.on_shutdown is not None:
                self.on_shutdown()
                return

    def handle(self, raw: bytes) -> dict[str, Any]:
        try:
            request = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return {"ok": False, "error": f"request is not JSON: {exc}"}
        if not isinstance(request, dict) or request.get("op") not in OPS:
            return {"ok": False, "error": f"request must be a JSON object with op one of {', '.join(OPS)}"}
        try:
            return {"ok": True, "result": self._run(request)}
        except (PipelineError, ValueError, KeyError, TypeError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if isinstance(exc, ValidationError):
                message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return {"ok": False, "error": message}
        except Exception as exc:
            log.exception("control request %r failed", request.get("op"))
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    def _run(self, request: dict[str, Any]) -> Any:
        op = request["op"]
        if op == "ping":
            return "pong"
        if op == "streams":
            return self.pipeline.sources()
        if op == "stats":
            return self.pipeline.stats()
        if op == "attach":
            if not isinstance(request.get("stream"), dict):
                raise ValueError("attach needs 'stream': {id: ..., source: {...}}")
            self.pipeline.attach(request["stream"])
            return f"attached {request['stream']['id']}"
        if op == "detach":
            if not isinstance(request.get("id"), str):
                raise ValueError("detach needs 'id': the stream id")
            return self.pipeline.detach(request["id"])
        self._shutdown_asked.set()
        return "shutting down"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._socket.close()
        self._context.term()


class ControlClient:
    """One request at a time; a request that gets no answer within ``timeout_s`` is a ControlError."""

    def __init__(self, endpoint: str, timeout_s: float = 15.0) -> None:
        self.endpoint = endpoint
        self.timeout_ms = int(timeout_s * 1000)

    def call(self, op: str, **args: Any) -> Any:
        context = zmq.Context.instance()
        socket = context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        socket.setsockopt(zmq.SNDTIMEO, self.timeout_ms)
        try:
            socket.connect(self.endpoint)
            socket.send(json.dumps({"op": op, **args}).encode())
            try:
                reply = json.loads(socket.recv())
            except zmq.Again:
                seconds = self.timeout_ms / 1000
                raise ControlError(
                    f"no answer from {self.endpoint} within {seconds:g} s: is vkstream run running?"
                ) from None
        except zmq.ZMQError as exc:
            raise ControlError(f"cannot reach {self.endpoint}: {exc.strerror}") from None
        finally:
            socket.close()
        if not reply.get("ok"):
            raise ControlError(reply.get("error", "the pipeline refused the request"))
        return reply.get("result")
