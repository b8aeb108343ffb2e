"""The control endpoint: attach, detach and inspect a running pipeline over ZeroMQ REQ/REP.

Requests and replies are JSON objects, so any language (or ``vkstream ctl``) can drive it:
``{"op": "streams"}`` -> ``{"ok": true, "result": {...}}``, errors as ``{"ok": false, "error": "..."}``.
Ops: ``ping``, ``streams``, ``stats``, ``attach`` (``stream``: a stream config), ``detach`` (``id``),
``shutdown``. It binds loopback unless allowed otherwise, like the publisher, and then only with
CURVE keys (:mod:`vkstream.nodes.curve_server`). The other side is :class:`vkstream.client.ControlClient`.

Whatever a request holds (several parts, bytes that are not JSON, a JSON value that is not an object,
wrong types, megabytes), it gets one JSON error reply and the endpoint goes on serving: a robot's
operator must always be able to stop the pipeline.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import zmq
from pydantic import ValidationError

from vkstream.nodes.curve_server import CurveServerConfig, secure_server
from vkstream.pipeline.runtime import Pipeline, PipelineError
from vkstream.wire import check_endpoint, is_loopback_endpoint

log = logging.getLogger(__name__)

OPS = ("ping", "streams", "stats", "attach", "detach", "shutdown")
MAX_REQUEST_BYTES = 1 << 20
"""Largest request served; a larger one (up to :data:`MAX_SOCKET_BYTES`) is answered with an error."""
MAX_SOCKET_BYTES = 16 << 20
"""Largest request libzmq reads at all (``ZMQ_MAXMSGSIZE``): a client sending more is disconnected
before the message is buffered, and gets no reply."""


class ControlServer:
    """Serves ``pipeline`` on a thread; ``on_shutdown`` is called for the ``shutdown`` op."""

    def __init__(
        self,
        pipeline: Pipeline,
        endpoint: str,
        *,
        allow_remote: bool = False,
        curve: CurveServerConfig | None = None,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        check_endpoint(endpoint, allow_remote)
        if curve is None and not is_loopback_endpoint(endpoint):
            raise ValueError(
                f"control endpoint {endpoint!r} is not loopback: it needs CURVE keys (control.curve, "
                "from 'vkstream keys'), or anyone who reaches it could attach files or stop the pipeline"
            )
        self.pipeline = pipeline
        self.on_shutdown = on_shutdown
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.REP)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.MAXMSGSIZE, MAX_SOCKET_BYTES)
        self._auth = None
        try:
            if curve is not None:
                self._auth = secure_server(self._socket, self._context, curve)
            self._socket.bind(endpoint)
        except (zmq.ZMQError, ValueError) as exc:
            self._close_zmq()
            why = exc.strerror if isinstance(exc, zmq.ZMQError) else str(exc)
            raise PipelineError(f"cannot bind the control endpoint {endpoint}: {why}") from None
        self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.served = self.refused = 0
        self._stop = threading.Event()
        self._shutdown_asked = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="vkstream-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        while not self._stop.is_set():
            try:
                if not poller.poll(100):
                    continue
                reply = self.handle(self._socket.recv_multipart())
            except zmq.ZMQError as exc:  # the socket is closing, or a peer vanished mid-request
                if self._stop.is_set():
                    return
                log.warning("control endpoint: %s", exc)
                continue
            self.served += 1
            self.refused += not reply.get("ok")
            self._reply(reply)
            if self._shutdown_asked.is_set() and self.on_shutdown is not None:
                self.on_shutdown()
                return

    def _reply(self, reply: dict[str, Any]) -> None:
        try:
            text = json.dumps(reply, default=str)
        except (TypeError, ValueError, RecursionError) as exc:  # a result JSON cannot hold
            text = json.dumps({"ok": False, "error": f"the reply cannot be sent as JSON: {exc}"})
        try:
            self._socket.send(text.encode())
        except zmq.ZMQError as exc:
            log.warning("control endpoint: the reply could not be sent: %s", exc)

    def handle(self, parts: list[bytes] | bytes) -> dict[str, Any]:
        """The reply to a request of one part (or the parts of a multipart one)."""
        if isinstance(parts, bytes):
            parts = [parts]
        if len(parts) != 1:
            return _error(f"a request is one message part of JSON, got {len(parts)} parts")
        raw = parts[0]
        if len(raw) > MAX_REQUEST_BYTES:
            return _error(f"request of {len(raw)} bytes exceeds {MAX_REQUEST_BYTES}")
        try:
            request = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            return _error(f"request is not JSON: {_first_line(exc)}")
        except RecursionError:
            return _error("request is not JSON: nested too deeply")
        if (
            not isinstance(request, dict)
            or not isinstance(request.get("op"), str)
            or request["op"] not in OPS
        ):
            return _error(f"request must be a JSON object with op one of {', '.join(OPS)}")
        try:
            return {"ok": True, "result": self._run(request)}
        except ValidationError as exc:
            return _error("; ".join(f"{_location(e['loc'])}: {_one_line(e['msg'])}" for e in exc.errors()))
        except (PipelineError, ValueError, KeyError, TypeError) as exc:
            return _error(_first_line(exc))
        except Exception as exc:
            log.exception("control request %r failed", request["op"])
            return _error(f"{type(exc).__name__}: {_first_line(exc)}")

    def _run(self, request: dict[str, Any]) -> Any:
        op = request["op"]
        if op in ("ping", "streams", "stats"):
            return {"ping": lambda: "pong", "streams": self.pipeline.sources, "stats": self.pipeline.stats}[
                op
            ]()
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
        self._close_zmq()

    def _close_zmq(self) -> None:
        self._socket.close()
        if self._auth is not None:
            self._auth.stop()
        self._context.term()


def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def _location(loc: tuple[Any, ...]) -> str:
    """A field path as ``a.b.0``; a key that is not plain printable text (a request may use any) as JSON."""
    return ".".join(_location_part(str(part)) for part in loc)


def _location_part(text: str) -> str:
    return text if text and text.isprintable() and text == text.strip() else json.dumps(text)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
