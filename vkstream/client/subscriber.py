"""The planner's side: subscribe to a publisher and receive typed results."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import zmq

from vkstream.client.curve import CurveClientKeys
from vkstream.client.errors import SchemaVersionError, WireFormatError
from vkstream.client.message import DEFAULT_TOPIC_PREFIX, StreamResult, check_name, decode_message, topic_of

log = logging.getLogger(__name__)
OnError = Literal["raise", "skip"]


@dataclass
class SubscriberStats:
    """What this subscriber saw, per stream id.

    ``lost`` counts messages published but never received here (the publisher's or this socket's
    high-water mark, or a reconnect), from gaps in ``seq`` that ``dropped`` does not explain.
    ``superseded`` counts messages discarded unread by ``latest_only``; ``bad`` counts messages skipped
    with ``on_error="skip"`` (by topic).
    """

    received: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lost: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    superseded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    bad: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Subscriber:
    """Receive results from a vkstream publisher.

    ``streams`` limits the subscription to those stream ids (exact match, even where ZeroMQ's prefix
    filter would let ``cam1`` through for ``cam10``); None takes every stream. With ``latest_only``,
    each :meth:`receive` first drains what has arrived and returns only the newest result per stream,
    so a planner slower than the camera never works through a backlog. ``on_error="skip"`` logs and
    skips messages that cannot be decoded; ``"raise"`` raises :class:`MalformedMessage` or
    :class:`SchemaVersionError`. Either way the subscriber stays usable for the next message.

    Not thread-safe (ZeroMQ sockets are not): use one subscriber per thread.
    """

    def __init__(
        self,
        endpoint: str,
        streams: Sequence[str] | None = None,
        *,
        curve: CurveClientKeys | None = None,
        topic_prefix: str = DEFAULT_TOPIC_PREFIX,
        latest_only: bool = False,
        rcvhwm: int = 16,
        on_error: OnError = "raise",
        context: zmq.Context | None = None,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if rcvhwm < 1:
            raise ValueError(f"rcvhwm must be at least 1, got {rcvhwm}")
        check_name(topic_prefix, "topic prefix")
        self.endpoint = endpoint
        self.latest_only = latest_only
        self.on_error = on_error
        self.stats = SubscriberStats()
        self._topics = (
            None if streams is None else {topic_of(check_name(s, "stream id"), topic_prefix) for s in streams}
        )
        self._prefix = f"{topic_prefix}/".encode()
        self._last: dict[str, tuple[int, int]] = {}
        self._pending: OrderedDict[bytes, tuple[list[bytes], int]] = OrderedDict()
        self._superseded_since: dict[bytes, int] = defaultdict(int)
        self._warned_schema = False
        self._socket = (context or zmq.Context.instance()).socket(zmq.SUB)
        try:
            self._socket.setsockopt(zmq.LINGER, 0)
            self._socket.setsockopt(zmq.RCVHWM, rcvhwm)
            if curve is not None:
                public, secret, server = curve.load()
                self._socket.curve_publickey = public
                self._socket.curve_secretkey = secret
                self._socket.curve_serverkey = server
            for topic in sorted(self._topics or {self._prefix}):
                self._socket.setsockopt(zmq.SUBSCRIBE, topic)
            self._socket.connect(endpoint)
        except zmq.ZMQError as exc:
            self._socket.close(linger=0)
            raise ValueError(f"cannot connect to {endpoint!r}: {exc}") from None
        except BaseException:
            self._socket.close(linger=0)
            raise

    def receive(self, timeout: float | None = None) -> StreamResult | None:
        """The next result, or None if ``timeout`` seconds pass without one (None: wait forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.latest_only:
                self._drain()
            if self._pending:
                topic, (frames, received_ns) = self._pending.popitem(last=False)
                result = self._decode(frames, received_ns, self._superseded_since.pop(topic, 0))
                if result is not None:
                    return result
                continue
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._socket.poll(None if remaining is None else int(remaining * 1000) + 1):
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                continue
            frames = self._socket.recv_multipart()
            if self._wanted(frames[0]):
                self._pending[frames[0]] = (frames, time.time_ns())
            elif deadline is not None and time.monotonic() >= deadline:
                return None

    def __iter__(self) -> Iterator[StreamResult]:
        while True:
            result = self.receive()
            if result is not None:
                yield result

    def close(self) -> None:
        self._socket.close(linger=0)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wanted(self, topic: bytes) -> bool:
        return topic in self._topics if self._topics is not None else topic.startswith(self._prefix)

    def _drain(self) -> None:
        """Read everything queued, keeping the newest message per topic."""
        while True:
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            topic = frames[0]
            if not self._wanted(topic):
                continue
            if topic in self._pending:
                self._superseded_since[topic] += 1
                del self._pending[topic]
            self._pending[topic] = (frames, time.time_ns())

    def _decode(self, frames: list[bytes], received_ns: int, superseded: int) -> StreamResult | None:
        label = frames[0].decode("utf-8", "replace").removeprefix(self._prefix.decode())
        try:
            result = decode_message(frames, received_ns)
        except WireFormatError as exc:
            self.stats.bad[label] += 1
            if self.on_error == "raise":
                raise
            if not isinstance(exc, SchemaVersionError) or not self._warned_schema:
                log.warning("skipping a message on %r: %s", frames[0], exc)
                self._warned_schema |= isinstance(exc, SchemaVersionError)
            return None
        self._account(result, superseded)
        return result

    def _account(self, result: StreamResult, superseded: int) -> None:
        stream = result.stream
        self.stats.received[stream] += 1
        self.stats.superseded[stream] += superseded
        last = self._last.get(stream)
        if last is not None and result.seq > last[0]:
            unexplained = (result.seq - last[0] - 1) - max(result.dropped - last[1], 0) - superseded
            self.stats.lost[stream] += max(unexplained, 0)
        self._last[stream] = (result.seq, result.dropped)
