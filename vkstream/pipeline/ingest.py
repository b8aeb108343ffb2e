"""A stream's ingest: reads its source in a thread, stamps and numbers frames, and pushes them on.

A camera that fails to open or disconnects is reopened with exponential backoff while the other
streams go on. Sequence numbers count every captured frame, so downstream drops show as gaps.
Replays at speed 0 (as fast as possible) are flow-controlled instead: they wait until fewer than
``max_in_flight`` of their frames are between ingest and every sink of the graph, so no frame is dropped.

A recording that fails is retried from its start at most ``retry.recorded_attempts`` times in all,
whatever the error (an unreadable label file raises no :class:`SourceError`): a broken file fails once
and for good instead of replaying its first frames forever. Live sources are retried for ever.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import ray

from vkstream.nodes.node import INGEST, Packet
from vkstream.nodes.sources import FrameSource, SourceError, open_source
from vkstream.pipeline.config import RetryConfig, StreamSpec
from vkstream.pipeline.outlet import Routes
from vkstream.pipeline.plan import Route
from vkstream.pipeline.stage_runner import quiet_logging

log = logging.getLogger(__name__)

STALL_S = 2.0
"""A flow-controlled replay stops waiting for a frame that was lost downstream after this long."""


def is_flow_controlled(spec: StreamSpec) -> bool:
    """Recorded sources at speed 0 (live cameras have no speed: they run at their own rate)."""
    return getattr(spec.source, "speed", None) == 0


class IngestRunner:
    def __init__(
        self,
        spec: StreamSpec,
        push: Callable[[list[Packet]], None],
        max_in_flight: int | None = None,
        sinks: tuple[str, ...] = (),
        source: FrameSource | None = None,
    ) -> None:
        """``push`` gets each frame with ``ingest.image`` and ``ingest.truth``; ``sinks`` ack flow control.

        ``source``: one already built (default: the registered source of ``spec.source``)."""
        self.spec = spec
        self.stream = spec.id
        self._push = push
        self._max_in_flight = max_in_flight
        self._source: FrameSource = open_source(spec.source) if source is None else source
        self._cond = threading.Condition()
        self._done = dict.fromkeys(sinks, -1)
        """Per sink, the last seq it finished: a frame is done when every sink has finished it."""
        self._stop = threading.Event()
        self.state, self.last_error = "starting", None
        self.frames = self.reconnects = self.stalls = self._next_seq = 0
        self._epoch = time.time_ns()
        self._thread = threading.Thread(target=self._run, name=f"vkstream-ingest-{self.stream}", daemon=True)
        self._thread.start()

    @property
    def _completed(self) -> int:
        return min(self._done.values(), default=self._next_seq - 1)

    def completed(self, seq: int, sink: str, epoch: int | None = None) -> None:
        """``sink`` finished frame ``seq`` (of this run of the ingest: ``epoch``, when given)."""
        with self._cond:
            if epoch is not None and epoch != self._epoch:  # numbered by the ingest before a restart
                return
            if sink not in self._done:  # a wiring fault: the frame would otherwise wait out STALL_S
                log.error(
                    "stream %r: completion from unknown sink %r (expected one of %s)",
                    self.stream,
                    sink,
                    sorted(self._done),
                )
                return
            self._done[sink] = max(self._done[sink], seq)
            self._cond.notify_all()

    def status(self) -> dict[str, Any]:
        source = {"stream": self.stream, "source": self._source.describe(), "live": self._source.live}
        figures = {
            "state": self.state,
            "frames": self.frames,
            "reconnects": self.reconnects,
            "stalls": self.stalls,
        }
        return {**source, **figures, "last_error": self.last_error}

    def stop(self, timeout: float = 5.0) -> dict[str, Any]:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)
        return {**self.status(), "epoch": self._epoch}  # the detaching driver retires it downstream

    def _run(self) -> None:
        retry = self.spec.retry
        delay, failures = retry.initial_s, 0
        while not self._stop.is_set():
            self.state = "connecting" if self.frames == 0 else "reconnecting"
            opened, message = False, None
            try:
                self._source.open()
                opened, delay, self.state = True, retry.initial_s, "streaming"
                if self._source.live:
                    failures = 0  # a camera back after a disconnect starts counting afresh
                if self._stream_frames():
                    self.state = "finished"
                    return
            except Exception as exc:
                expected = isinstance(exc, SourceError)
                message = str(exc) if expected else f"{type(exc).__name__}: {exc}"
                if not expected:
                    log.exception("stream %r: unexpected error in its source", self.stream)
                # A recording counts every failed attempt, opened or not (it would start over from
                # its first frame); a camera counts failures to open, and only for the log.
                failures += not opened or not self._source.live
                self.reconnects += opened
                if not self._source.live and failures >= retry.recorded_attempts:
                    self.last_error, self.state = message, "failed"
                    log.error("stream %r: %s; giving up after %d attempts", self.stream, exc, failures)
                    return
            finally:
                self._source.close()
            delay = delay if message is None else self._failed(message, delay, retry)
        self.state = "stopped"

    def _failed(self, message: str, delay: float, retry: RetryConfig) -> float:
        self.last_error = message
        self.state = "retrying"
        log.warning("stream %r: %s; retrying in %.1f s", self.stream, message, delay)
        self._stop.wait(delay)
        return min(delay * retry.factor, retry.max_s)

    def _stream_frames(self) -> bool:
        """Push frames until the source ends (True) or a stop is asked for (False)."""
        first = True
        while not self._stop.is_set():
            frame = self._source.read()
            if frame is None:
                return True
            if self._max_in_flight is not None:
                self._wait_for_room()
            seq = self._next_seq
            self._next_seq += 1
            packet = Packet(
                stream=self.stream,
                seq=seq,
                stamp_ns=frame.stamp_ns,
                epoch=self._epoch,
                data={f"{INGEST}.image": frame.image, f"{INGEST}.truth": frame.truth},
                meta=frame.meta,
                restart=frame.restart or first,
                lossless=self._max_in_flight is not None,
                batch_key=tuple(frame.image.shape),
            )
            first = False
            packet.mark_sent()
            self._push([packet])
            self.frames += 1
        return False

    def _wait_for_room(self) -> None:
        assert self._max_in_flight is not None
        deadline = time.monotonic() + STALL_S
        with self._cond:
            while self._next_seq - 1 - self._completed >= self._max_in_flight and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:  # lost downstream (e.g. an actor restarted)
                    self.stalls += 1
                    self._done = dict.fromkeys(self._done, self._next_seq - 1)
                    return
                self._cond.wait(left)


@ray.remote
class IngestActor:
    def __init__(
        self, spec: StreamSpec, routes: tuple[Route, ...], sinks: tuple[str, ...], max_in_flight: int | None
    ):
        quiet_logging()
        self._routes = Routes(INGEST, routes)
        self._runner = IngestRunner(spec, self._routes.send, max_in_flight, sinks if max_in_flight else ())

    def completed(self, seq: int, sink: str, epoch: int | None = None) -> None:
        self._runner.completed(seq, sink, epoch)

    def status(self) -> dict[str, Any]:
        return {**self._runner.status(), "cpu_s": time.process_time()}  # this actor's process

    def stop(self) -> dict[str, Any]:
        return self._runner.stop()

    def pid(self) -> int:
        return os.getpid()
