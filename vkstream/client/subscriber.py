"""The planner's side: subscribe to a publisher and receive typed results."""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import zmq

from vkstream.client.curve import CurveClientKeys
from vkstream.client.errors import SchemaVersionError, WireFormatError
from vkstream.client.message import (
    DEFAULT_TOPIC_PREFIX,
    MAX_PAYLOAD_BYTES,
    StreamResult,
    check_name,
    decode_message,
    topic_of,
)

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
    ``max_message_bytes`` bounds what libzmq accepts (``ZMQ_MAXMSGSIZE``): a publisher that sends a
    larger message is disconnected before the message is buffered. libzmq itself would never connect to
    it again after that (a protocol error ends the connection for good), so the subscriber watches its
    socket's disconnections and connects afresh.

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
        max_message_bytes: int = MAX_PAYLOAD_BYTES,
        on_error: OnError = "raise",
        context: zmq.Context | None = None,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if rcvhwm < 1:
            raise ValueError(f"rcvhwm must be at least 1, got {rcvhwm}")
        if max_message_bytes < 1:
            raise ValueError(f"max_message_bytes must be at least 1, got {max_message_bytes}")
        self.max_message_bytes = max_message_bytes
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
            self._socket.setsockopt(zmq.MAXMSGSIZE, max_message_bytes)
            if curve is not None:
                public, secret, server = curve.load()
                self._socket.curve_publickey = public
                self._socket.curve_secretkey = secret
                self._socket.curve_serverkey = server
            for topic in sorted(self._topics or {self._prefix}):
                self._socket.setsockopt(zmq.SUBSCRIBE, topic)
            self._socket.connect(endpoint)
            self._monitor = self._socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        except zmq.ZMQError as exc:
            self._socket.close(linger=0)
            raise ValueError(f"cannot connect to {endpoint!r}: {exc}") from None
        except BaseException:
            self._socket.close(linger=0)
            raise
        self.reconnects = 0
        """Connections made afresh after the publisher's connection ended."""
        self._disconnected = False
        self._poller = zmq.Poller()
        self._poller.register(self._socket, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)

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
            if self._disconnected and not self._socket.poll(0):
                self._reconnect()  # only once every message of the old connection is read
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            events = dict(self._poller.poll(None if remaining is None else int(remaining * 1000) + 1))
            if self._monitor in events:
                self._take_disconnections()
                continue
            if self._socket not in events:
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
        self._socket.disable_monitor()
        self._monitor.close(linger=0)
        self._socket.close(linger=0)

    def _take_disconnections(self) -> None:
        while True:
            try:
                self._monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            self._disconnected = True

    def _reconnect(self) -> None:
        """After a disconnection: connect anew (the subscriptions are the socket's, and sent again).

        Never while messages of the old connection wait to be read: ending a connection's pipe with
        messages in it trips an assertion in libzmq's fair queue and aborts the process."""
        self._disconnected = False
        with contextlib.suppress(zmq.ZMQError):  # ended for good: libzmq forgot the endpoint already
            self._socket.disconnect(self.endpoint)
        self._socket.connect(self.endpoint)
        self.reconnects += 1

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
            result = decode_message(frames, received_ns, self.max_message_bytes)
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
