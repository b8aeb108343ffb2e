"""A stream's ingest: reads its source in a thread, stamps and numbers frames, and pushes them on.

A camera that fails to open or disconnects is reopened with exponential backoff while the other
streams go on. Sequence numbers count every captured frame, so downstream drops show as gaps.
Replays at speed 0 (as fast as possible) are flow-controlled instead: they wait until fewer than
``max_in_flight`` of their frames are between ingest and publication, so no frame is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from vkstream.nodes.packet import Packet
from vkstream.nodes.sources import FrameSource, SourceError, open_source
from vkstream.pipeline.config import RetryConfig, StreamSpec

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
    ) -> None:
        self.spec = spec
        self.stream = spec.id
        self._push = push
        self._max_in_flight = max_in_flight
        self._source: FrameSource = open_source(spec.source)
        self._cond = threading.Condition()
        self._completed = -1
        self._stop = threading.Event()
        self.state = "starting"
        self.frames = 0
        self.reconnects = 0
        self.last_error: str | None = None
        self._next_seq = 0
        self._epoch = time.time_ns()
        self._thread = threading.Thread(target=self._run, name=f"vkstream-ingest-{self.stream}", daemon=True)
        self._thread.start()

    # ---- control -------------------------------------------------------------------------------

    def completed(self, seq: int) -> None:
        with self._cond:
            self._completed = max(self._completed, seq)
            self._cond.notify_all()

    def status(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "source": self._source.describe(),
            "live": self._source.live,
            "state": self.state,
            "frames": self.frames,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
        }

    def stop(self, timeout: float = 5.0) -> dict[str, Any]:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)
        return self.status()

    # ---- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        retry = self.spec.retry
        delay = retry.initial_s
        failures = 0
        while not self._stop.is_set():
            self.state = "connecting" if self.frames == 0 else "reconnecting"
            try:
                self._source.open()
            except SourceError as exc:
                failures += 1
                if not self._source.live and failures >= retry.recorded_attempts:
                    self.last_error = str(exc)
                    self.state = "failed"
                    log.error("stream %r: %s; giving up after %d attempts", self.stream, exc, failures)
                    return
                delay = self._failed(str(exc), delay, retry)
                continue
            except Exception as exc:
                log.exception("stream %r: unexpected error opening its source", self.stream)
                delay = self._failed(f"{type(exc).__name__}: {exc}", delay, retry)
                continue
            delay = retry.initial_s
            failures = 0
            self.state = "streaming"
            try:
                finished = self._stream_frames()
            except SourceError as exc:
                self._source.close()
                self.reconnects += 1
                delay = self._failed(str(exc), delay, retry)
                continue
            except Exception as exc:
                log.exception("stream %r: unexpected error reading its source", self.stream)
                self._source.close()
                delay = self._failed(f"{type(exc).__name__}: {exc}", delay, retry)
                continue
            self._source.close()
            if finished:
                self.state = "finished"
                return
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
                data={"image": frame.image},
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
                if left <= 0:
                    self._completed = self._next_seq - 1  # lost downstream (e.g. an actor restarted)
                    return
                self._cond.wait(left)
