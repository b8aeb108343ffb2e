"""Fuzz inputs for the control endpoint: random bytes, multipart, huge, non-object JSON, wrong types.

Shared by the tests and ``benchmarks/fuzz.py``. The property: whatever a peer sends as one request,
it gets one reply, a JSON object, and the endpoint goes on answering ``ping``.
"""

from __future__ import annotations

import json
from typing import Any

import zmq
from hypothesis import strategies as st

from vkstream.pipeline.control import OPS

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
OP_NAMES = st.sampled_from([*OPS, "", "PING", "attach ", "exec"]) | JSON_VALUES
"""The ops (shutdown among them is answered as any request; the test endpoint has no shutdown hook)."""


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request object whose op and arguments have any value, shape or type."""
    request: dict[str, Any] = {"op": draw(OP_NAMES)}
    if draw(st.booleans()):
        request["stream"] = draw(
            JSON_VALUES
            | st.fixed_dictionaries(
                {"id": JSON_VALUES, "source": JSON_VALUES | st.fixed_dictionaries({"kind": JSON_VALUES})}
            )
        )
    if draw(st.booleans()):
        request["id"] = draw(JSON_VALUES)
    request.update(draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3)))
    return request


def _encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


HUGE = st.sampled_from([1 << 20, (1 << 20) + 1, 3 << 20]).map(
    lambda n: b'{"op": "ping", "x": "' + b"x" * n + b'"}'
)
DEEP = st.integers(100, 50_000).map(lambda n: b"[" * n + b"]" * n)
NOT_UTF8 = st.binary(min_size=1, max_size=64).map(lambda b: b"\xff" + b)


def control_requests() -> st.SearchStrategy[list[bytes]]:
    """The parts of one request."""
    one = st.one_of(
        requests().map(_encoded),
        JSON_VALUES.map(_encoded),
        st.binary(max_size=256),
        NOT_UTF8,
        DEEP,
        HUGE,
    )
    return st.one_of(one.map(lambda b: [b]), st.lists(st.binary(max_size=64), min_size=2, max_size=4))


class ControlProbe:
    """A REQ socket per request (a REQ socket that got no reply cannot send again)."""

    def __init__(self, endpoint: str, timeout_ms: int = 5000) -> None:
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self.context = zmq.Context()

    def ask(self, parts: list[bytes]) -> list[bytes]:
        socket = self.context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        try:
            socket.connect(self.endpoint)
            socket.send_multipart(parts)
            return socket.recv_multipart()
        finally:
            socket.close()

    def check(self, parts: list[bytes]) -> str:
        """Send ``parts``; the reply must be one JSON object; then ping must answer. Returns ok/error."""
        reply = self.ask(parts)
        assert len(reply) == 1, reply
        answer = json.loads(reply[0])
        assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool), answer
        if not answer["ok"]:
            assert isinstance(answer["error"], str) and answer["error"] and "\n" not in answer["error"], (
                answer
            )
        assert json.loads(self.ask([b'{"op": "ping"}'])[0]) == {"ok": True, "result": "pong"}
        return "ok" if answer["ok"] else "error"

    def close(self) -> None:
        self.context.term()
