"""The publisher node: sends each frame's panoptic, depth and segments to planners over ZeroMQ.

``publish()`` checks and copies a result and returns; a sender thread builds the wire result
(:func:`vkstream.wire.stream_result`), encodes it (wire format v1, docs/wire-format.md) and hands the
message to an XPUB socket, which never blocks. So neither a slow encoder nor a slow or absent
subscriber can hold up the caller:

- up to ``queue_size`` results per stream wait for the sender thread (``latest_only``: one); when
  a stream's queue is full its oldest result is dropped, counted in ``stats.dropped`` and in the
  ``dropped`` field of the stream's next message;
- ZeroMQ keeps up to ``sndhwm`` messages per subscriber and drops beyond that for that subscriber
  alone. libzmq does not report those drops; subscribers count them from ``seq`` gaps
  (:attr:`vkstream.client.SubscriberStats.lost`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

import zmq
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vkstream.client.arrays import Codec
from vkstream.client.message import DEFAULT_TOPIC_PREFIX, check_name, encode_message
from vkstream.nodes.curve_server import CurveServerConfig, secure_server
from vkstream.wire import DEFAULT_ENDPOINT, FrameOutput, check_endpoint, checked_output, stream_result

log = logging.getLogger(__name__)

MAX_UPSTREAM_BYTES = 4096
"""Largest message a subscriber may send the XPUB socket (a subscription is a byte and a topic); libzmq
disconnects a peer that sends more before buffering it."""


class PublisherConfig(BaseModel):
    """Where and how results are published."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field(
        default=DEFAULT_ENDPOINT,
        description="ZeroMQ endpoint to bind: tcp://HOST:PORT (PORT * picks a free one), ipc://PATH",
    )
    allow_remote: bool = Field(default=False, description="allow binding a non-loopback TCP address")
    topic_prefix: str = Field(default=DEFAULT_TOPIC_PREFIX, description="topics are PREFIX/STREAM")
    codec: Codec = Field(default="zstd", description="array codec: raw, zstd, lz4 or png")
    codec_level: int | None = Field(default=None, description="compression level; null: the codec's default")
    sndhwm: int = Field(default=16, ge=1, description="messages ZeroMQ queues per subscriber before dropping")
    queue_size: int = Field(default=4, ge=1, description="results per stream waiting to be encoded")
    latest_only: bool = Field(
        default=False, description="keep only the newest unsent result per stream (queue_size 1)"
    )
    curve: CurveServerConfig | None = Field(default=None, description="encrypt and authenticate with CURVE")

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return check_name(value, "topic_prefix")

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> PublisherConfig:
        check_endpoint(self.endpoint, self.allow_remote)
        return self

    @property
    def effective_queue_size(self) -> int:
        return 1 if self.latest_only else self.queue_size


@dataclass
class PublisherStats:
    """Counts since the publisher started, per stream id."""

    sent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    dropped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """Results dropped by the publisher itself because its queue for the stream was full."""
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """Results that could not be encoded (logged as errors)."""
    bytes_sent: int = 0


@dataclass
class _Pending:
    output: FrameOutput
    accepted_ns: int
    order: int


class Publisher:
    """Bind a ZeroMQ XPUB socket and publish :class:`FrameOutput` results to any subscribers.

    Thread-safe: ``publish`` may be called from any thread; only the sender thread touches the socket.
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, config: PublisherConfig | None = None) -> None:
        self.config = config or PublisherConfig()
        self._cond = threading.Condition()
        self._queues: dict[str, deque[_Pending]] = {}
        self._last_seq: dict[str, int] = {}
        self._order = 0
        self._busy = False
        self._closing = False
        self._stats = PublisherStats()
        self._subscriptions = 0
        self._topics: Counter[bytes] = Counter()
        self._context = zmq.Context()
        self._auth = None
        self._socket = self._context.socket(zmq.XPUB)
        try:
            self._bind()
        except BaseException:
            self._socket.close(linger=0)
            self._shutdown_zmq()
            raise
        self.endpoint: str = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        """The bound endpoint, with the port the system chose for ``tcp://HOST:*``."""
        self._thread = threading.Thread(target=self._run, name="vkstream-publisher", daemon=True)
        self._thread.start()

    def _bind(self) -> None:
        cfg = self.config
        socket = self._socket
        socket.setsockopt(zmq.LINGER, 200)
        socket.setsockopt(zmq.SNDHWM, cfg.sndhwm)
        socket.setsockopt(zmq.XPUB_VERBOSER, 1)  # see every (un)subscription, to count subscribers
        socket.setsockopt(zmq.MAXMSGSIZE, MAX_UPSTREAM_BYTES)
        if cfg.curve is not None:
            self._auth = secure_server(socket, self._context, cfg.curve)
        try:
            socket.bind(cfg.endpoint)
        except zmq.ZMQError as exc:
            raise ValueError(f"cannot bind {cfg.endpoint}: {exc.strerror}") from None

    # ---- the caller's side -------------------------------------------------------------------

    def publish(self, output: FrameOutput) -> None:
        """Queue ``output`` for sending and return at once; raises ValueError for a bad result."""
        checked = checked_output(output)
        with self._cond:
            if self._closing:
                raise RuntimeError("the publisher is closed")
            last = self._last_seq.get(output.stream)
            if last is not None and output.seq <= last:
                raise ValueError(f"stream {output.stream!r}: seq {output.seq} does not follow {last}")
            self._last_seq[output.stream] = output.seq
            queue = self._queues.setdefault(output.stream, deque())
            if len(queue) >= self.config.effective_queue_size:
                queue.popleft()
                self._stats.dropped[output.stream] += 1
            self._order += 1
            queue.append(_Pending(checked, time.time_ns(), self._order))
            self._cond.notify_all()

    def forget(self, stream: str) -> None:
        """Drop all that is known of ``stream`` (its last seq, queued results, counts): a stream
        attached later under the same id starts afresh, from seq 0."""
        with self._cond:
            self._last_seq.pop(stream, None)
            self._queues.pop(stream, None)
            for table in (self._stats.sent, self._stats.dropped, self._stats.failed):
                table.pop(stream, None)
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued result has been handed to ZeroMQ; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy and not self._has_pending(), timeout)

    @property
    def stats(self) -> PublisherStats:
        with self._cond:
            s = self._stats
            return PublisherStats(dict(s.sent), dict(s.dropped), dict(s.failed), s.bytes_sent)

    @property
    def subscriptions(self) -> int:
        """Active topic subscriptions from connected subscribers (one per stream filter each)."""
        with self._cond:
            return self._subscriptions

    def wait_for_subscriptions(self, count: int = 1, timeout: float | None = None) -> bool:
        """Wait until at least ``count`` subscriptions are active; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._subscriptions >= count, timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (waiting at most ``timeout`` s), then close the socket."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        self._shutdown_zmq()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the sender thread -------------------------------------------------------------------

    def _has_pending(self) -> bool:
        return any(self._queues.values())

    def _run(self) -> None:
        while True:
            self._read_subscriptions()
            with self._cond:
                if not self._has_pending():
                    if self._closing:
                        return
                    self._cond.wait(0.02)
                    continue
                queue = min((q for q in self._queues.values() if q), key=lambda q: q[0].order)
                item = queue.popleft()
                own_drops = self._stats.dropped.get(item.output.stream, 0)
                self._busy = True
            stream = item.output.stream
            try:
                frames = self._encode(item, own_drops)
                self._socket.send_multipart(frames, copy=False)
                sent = len(frames[1])
            except Exception:
                log.exception("could not publish frame %d of stream %r", item.output.seq, stream)
                sent = -1
            with self._cond:
                if sent >= 0:
                    self._stats.sent[stream] += 1
                    self._stats.bytes_sent += sent
                else:
                    self._stats.failed[stream] += 1
                self._busy = False
                self._cond.notify_all()

    def _encode(self, item: _Pending, own_drops: int) -> list[bytes]:
        result = stream_result(item.output, time.time_ns(), item.accepted_ns, own_drops)
        cfg = self.config
        return encode_message(result, cfg.codec, cfg.codec_level, cfg.topic_prefix)

    def _read_subscriptions(self) -> None:
        """Count XPUB's (un)subscription messages: first byte 1 = subscribe, 0 = unsubscribe.

        Anything else a peer sends upstream (an XSUB may send any bytes, in several parts) is not a
        subscription and is ignored, and so is an unsubscription from a topic nobody subscribed to
        (libzmq passes those on too): no peer can make the count go below the subscriptions there are.
        """
        while True:
            try:
                parts = self._socket.recv_multipart(zmq.NOBLOCK)
            except zmq.ZMQError:  # zmq.Again: nothing more; otherwise the socket is closing
                return
            event = parts[0] if len(parts) == 1 else b""
            if event[:1] not in (b"\x00", b"\x01"):
                continue
            topic = event[1:]
            with self._cond:
                if event[0] == 1:
                    self._topics[topic] += 1
                elif self._topics[topic] > 1:
                    self._topics[topic] -= 1
                elif self._topics.pop(topic, 0) == 0:
                    continue
                self._subscriptions = sum(self._topics.values())
                self._cond.notify_all()

    def _shutdown_zmq(self) -> None:
        self._socket.close()
        if self._auth is not None:
            self._auth.stop()
        self._context.term()
