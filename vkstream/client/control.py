"""The client of a running pipeline's control endpoint (``vkstream ctl``): JSON over ZeroMQ REQ/REP.

A request is ``{"op": OP, ...}``; the reply ``{"ok": true, "result": ...}`` or ``{"ok": false, "error":
"..."}``. Ops: ``ping``, ``streams``, ``stats``, ``attach`` (``stream``: a stream config), ``detach``
(``id``), ``shutdown``. Needs only pyzmq, so planners can attach and detach cameras themselves. An
endpoint protected with CURVE answers only clients with admitted keys (``curve``).
"""

from __future__ import annotations

import json
from typing import Any

import zmq

from vkstream.client.curve import CurveClientKeys

MAX_REPLY_BYTES = 64 << 20
"""Largest reply accepted (``ZMQ_MAXMSGSIZE``): a stats reply of hundreds of streams is well below."""


class ControlError(Exception):
    """A control request failed: the endpoint is unreachable, answered with an error or not in JSON."""


class ControlClient:
    """One request at a time; a request that gets no answer within ``timeout_s`` is a ControlError."""

    def __init__(
        self, endpoint: str, timeout_s: float = 15.0, *, curve: CurveClientKeys | None = None
    ) -> None:
        self.endpoint = endpoint
        self.timeout_ms = int(timeout_s * 1000)
        self._keys = None if curve is None else curve.load()  # a bad key file fails here, in one line

    def call(self, op: str, **args: Any) -> Any:
        context = zmq.Context.instance()
        socket = context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        socket.setsockopt(zmq.SNDTIMEO, self.timeout_ms)
        socket.setsockopt(zmq.MAXMSGSIZE, MAX_REPLY_BYTES)
        if self._keys is not None:
            socket.curve_publickey, socket.curve_secretkey, socket.curve_serverkey = self._keys
        try:
            socket.connect(self.endpoint)
            socket.send(json.dumps({"op": op, **args}).encode())
            try:
                parts = socket.recv_multipart()
            except zmq.Again:
                seconds = self.timeout_ms / 1000
                raise ControlError(
                    f"no answer from {self.endpoint} within {seconds:g} s: is vkstream run running"
                    f"{' and are these its keys' if self._keys is not None else ''}?"
                ) from None
        except zmq.ZMQError as exc:
            raise ControlError(f"cannot reach {self.endpoint}: {exc.strerror}") from None
        finally:
            socket.close()
        return _result(parts, self.endpoint)


def _result(parts: list[bytes], endpoint: str) -> Any:
    """The result of a reply; a ControlError for an error reply or one that breaks the protocol."""
    try:
        reply = json.loads(parts[0]) if len(parts) == 1 else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        reply = None
    if not isinstance(reply, dict):
        raise ControlError(
            f"{endpoint} did not answer with a JSON object: is it a vkstream control endpoint?"
        )
    if reply.get("ok") is not True:
        error = reply.get("error")
        raise ControlError(error if isinstance(error, str) and error else "the pipeline refused the request")
    return reply.get("result")
