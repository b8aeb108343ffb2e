"""The publisher node: sends each frame's panoptic, depth and segments to planners over ZeroMQ.

``publish()`` checks and copies a result and returns; a sender thread derives the segment list,
encodes (wire format v1, docs/wire-format.md) and hands the message to an XPUB socket, which never
blocks. So neither a slow encoder nor a slow or absent subscriber can hold up the caller:

- up to ``queue_size`` results per stream wait for the sender thread (``latest_only``: one); when
  a stream's queue is full its oldest result is dropped, counted in ``stats.dropped`` and in the
  ``dropped`` field of the stream's next message;
- ZeroMQ keeps up to ``sndhwm`` messages per subscriber and drops beyond that for that subscriber
  alone. libzmq does not report those drops; subscribers count them from ``seq`` gaps
  (:attr:`vkstream.client.SubscriberStats.lost`).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zmq
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vkstream.client.arrays import Codec
from vkstream.client.curve import load_key_pair
from vkstream.client.message import (
    DEFAULT_TOPIC_PREFIX,
    TRACK_BITS,
    StreamResult,
    check_name,
    encode_message,
)
from vkstream.data.classes import CLASS_NAMES, THING_IDS, VOID
from vkstream.data.frame import Intrinsics
from vkstream.nodes.segments import derive_segments

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5560"
FLOAT16_MAX = 65504.0
_LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


class CurveServerConfig(BaseModel):
    """CURVE for the publisher: its key pair, and which clients it admits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_key_file: Path = Field(description="the server's '.key_secret' file from 'vkstream keys'")
    authorized_clients: Path | None = Field(
        default=None,
        description="folder of admitted clients' public '.key' files; null admits any client that "
        "holds the server's public key",
    )


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


def check_endpoint(endpoint: str, allow_remote: bool) -> None:
    """Raise ValueError for a malformed endpoint, or a non-loopback TCP bind not explicitly allowed."""
    scheme, sep, address = endpoint.partition("://")
    if not sep or scheme not in ("tcp", "ipc", "inproc") or not address:
        raise ValueError(f"invalid endpoint {endpoint!r}: expected tcp://HOST:PORT or ipc://PATH")
    if scheme != "tcp":
        return
    host, colon, port = address.rpartition(":")
    if not colon or not host or not (port == "*" or (port.isdigit() and 0 < int(port) < 65536)):
        raise ValueError(f"invalid endpoint {endpoint!r}: expected tcp://HOST:PORT, e.g. {DEFAULT_ENDPOINT}")
    if allow_remote or _is_loopback(host.strip("[]")):
        return
    raise ValueError(
        f"endpoint {endpoint!r} would accept connections from other machines; bind 127.0.0.1, or set "
        "allow_remote (and consider CURVE) to publish beyond this host"
    )


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # '*', 0.0.0.0 handled above; interface names such as eth0 are not loopback


@dataclass
class FrameOutput:
    """One frame of one stream as the pipeline hands it to the publisher; model-agnostic.

    ``seq`` counts the stream's captured frames from 0, and ``dropped`` how many of them never
    reached the publisher: together they let subscribers tell pipeline drops from network losses.
    ``scores`` maps segment id (panoptic value) to confidence; None for sources without one.
    ``latency_ms`` holds the stages so far; the publisher adds ``publish`` and ``total``.
    """

    stream: str
    seq: int
    stamp_ns: int
    panoptic: np.ndarray
    """HxW unsigned ints: class_id * 65536 + track_id; no void."""
    depth: np.ndarray
    """HxW float metres, 0 = no estimate."""
    scores: Mapping[int, float] | None = None
    intrinsics: Intrinsics | None = None
    latency_ms: Mapping[str, float] = field(default_factory=dict)
    dropped: int = 0
    state_reset: bool = False


MAX_TRACK_ID = (1 << TRACK_BITS) - 1


def wire_track_id(track: int) -> int:
    """The track id as published: ids above 65535 (a stream running for hours) wrap round to 1.."""
    return (track - 1) % MAX_TRACK_ID + 1 if track > MAX_TRACK_ID else track


def panoptic_from_labels(semantic: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """HxW uint32 panoptic map from class ids and track ids; void pixels are refused.

    Track ids wrap as :func:`wire_track_id` does, so they never spill into the class bits.
    """
    if semantic.shape != instance.shape or semantic.ndim != 2:
        raise ValueError(f"class map {semantic.shape} and track map {instance.shape} must be the same HxW")
    if semantic.size and int(semantic.max()) >= VOID:
        raise ValueError("the class map holds void pixels; published results assign every pixel a class")
    tracks = instance.astype(np.int64)
    if tracks.size and int(tracks.max()) > MAX_TRACK_ID:
        tracks = np.where(tracks > MAX_TRACK_ID, (tracks - 1) % MAX_TRACK_ID + 1, tracks)
    return (semantic.astype(np.uint32) << TRACK_BITS) | tracks.astype(np.uint32)


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

    def __init__(
        self,
        config: PublisherConfig | None = None,
        *,
        classes: Sequence[str] = CLASS_NAMES,
        thing_ids: Collection[int] = THING_IDS,
    ) -> None:
        self.config = config or PublisherConfig()
        self.classes = tuple(classes)
        self.thing_ids = frozenset(thing_ids)
        self._cond = threading.Condition()
        self._queues: dict[str, deque[_Pending]] = {}
        self._last_seq: dict[str, int] = {}
        self._order = 0
        self._busy = False
        self._closing = False
        self._stats = PublisherStats()
        self._subscriptions = 0
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
        if cfg.curve is not None:
            public, secret = load_key_pair(cfg.curve.secret_key_file)
            from zmq.auth.thread import ThreadAuthenticator

            self._auth = ThreadAuthenticator(self._context, log=log.getChild("auth"))
            self._auth.start()
            if cfg.curve.authorized_clients is None:
                self._auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
            else:
                if not cfg.curve.authorized_clients.is_dir():
                    raise ValueError(f"authorized_clients folder {cfg.curve.authorized_clients} not found")
                self._auth.configure_curve(domain="*", location=str(cfg.curve.authorized_clients))
            socket.curve_secretkey = secret
            socket.curve_publickey = public
            socket.curve_server = True
        try:
            socket.bind(cfg.endpoint)
        except zmq.ZMQError as exc:
            raise ValueError(f"cannot bind {cfg.endpoint}: {exc.strerror}") from None

    # ---- the caller's side -------------------------------------------------------------------

    def publish(self, output: FrameOutput) -> None:
        """Queue ``output`` for sending and return at once; raises ValueError for a bad result."""
        checked = self._checked(output)
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

    def _checked(self, output: FrameOutput) -> FrameOutput:
        """A private copy in wire types, after the checks that are cheap enough for the caller's thread."""
        check_name(output.stream, "stream id")
        if not isinstance(output.seq, (int, np.integer)) or output.seq < 0:
            raise ValueError(f"seq must be a non-negative int, got {output.seq!r}")
        if not isinstance(output.stamp_ns, (int, np.integer)) or output.stamp_ns < 0:
            raise ValueError(f"stamp_ns must be a non-negative int (Unix ns), got {output.stamp_ns!r}")
        panoptic, depth = np.asarray(output.panoptic), np.asarray(output.depth)
        if (
            panoptic.ndim != 2
            or panoptic.dtype.kind != "u"
            or panoptic.dtype.itemsize > 4
            or 0 in panoptic.shape
        ):
            raise ValueError(
                f"panoptic must be a non-empty HxW uint32 map, got {panoptic.dtype} {panoptic.shape}"
            )
        if depth.shape != panoptic.shape or depth.dtype.kind != "f":
            raise ValueError(
                f"depth must be float metres of the panoptic map's shape {panoptic.shape}, "
                f"got {depth.dtype} {depth.shape}"
            )
        top_class = int(panoptic.max()) >> TRACK_BITS
        if top_class >= len(self.classes):
            raise ValueError(f"panoptic holds class id {top_class}; there are {len(self.classes)} classes")
        if not np.isfinite(depth).all() or depth.min() < 0 or depth.max() > FLOAT16_MAX:
            raise ValueError(f"depth must be finite metres in [0, {FLOAT16_MAX:g}]")
        latency = dict(output.latency_ms)
        if "total" in latency or "publish" in latency:
            raise ValueError("latency_ms must not hold 'total' or 'publish': the publisher adds them")
        if output.dropped < 0:
            raise ValueError(f"dropped must be non-negative, got {output.dropped}")
        return FrameOutput(
            stream=output.stream,
            seq=int(output.seq),
            stamp_ns=int(output.stamp_ns),
            panoptic=panoptic.astype(np.uint32, copy=True),
            depth=depth.astype(np.float16),
            scores=None if output.scores is None else dict(output.scores),
            intrinsics=output.intrinsics,
            latency_ms={str(k): float(v) for k, v in latency.items()},
            dropped=int(output.dropped),
            state_reset=bool(output.state_reset),
        )

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
        out = item.output
        segments = derive_segments(out.panoptic, out.depth, self.thing_ids, out.scores, out.intrinsics)
        publish_ns = time.time_ns()
        latency = {
            **out.latency_ms,
            "publish": (publish_ns - item.accepted_ns) / 1e6,
            "total": (publish_ns - out.stamp_ns) / 1e6,
        }
        result = StreamResult(
            stream=out.stream,
            seq=out.seq,
            stamp_ns=out.stamp_ns,
            publish_ns=publish_ns,
            classes=self.classes,
            panoptic=out.panoptic,
            depth=out.depth,
            segments=segments,
            latency_ms=latency,
            dropped=out.dropped + own_drops,
            state_reset=out.state_reset,
        )
        cfg = self.config
        return encode_message(result, cfg.codec, cfg.codec_level, cfg.topic_prefix)

    def _read_subscriptions(self) -> None:
        """Count XPUB's (un)subscription messages: first byte 1 = subscribe, 0 = unsubscribe."""
        while True:
            try:
                event = self._socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError:
                return
            if event:
                with self._cond:
                    self._subscriptions += 1 if event[0] == 1 else -1
                    self._cond.notify_all()

    def _shutdown_zmq(self) -> None:
        self._socket.close()
        if self._auth is not None:
            self._auth.stop()
        self._context.term()
