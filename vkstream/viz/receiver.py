"""A subscriber thread that sees results as a planner would and hands each on with its camera frame.

``vkstream demo`` runs one beside its pipeline: the replays' frames are on disk, so each result is
joined with its camera image (and intrinsics, scaled to the result's size) for the annotated videos,
the latency summary and any other sink, such as a live Foxglove server.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from vkstream.client import StreamResult, Subscriber
from vkstream.viz.latency import LatencySummary
from vkstream.viz.recorder import StreamRecorder


class Sink(Protocol):
    def add(self, result: StreamResult, image: np.ndarray | None, intrinsics: Any) -> None: ...


class FrameReceiver(threading.Thread):
    """Subscribes to ``endpoint``; writes OUT/STREAM.mp4 and strips, summarises latency, feeds ``sinks``.

    Each stream replays the sequence ``sequences[stream]`` of ``dataset`` (a
    :class:`vkstream.data.SequenceDataset`): frame ``seq`` of it, or its last past the end. Results are
    decoded as they arrive, as a planner would, and ``sinks`` get them live; the videos are drawn in
    :meth:`finish`, once the pipeline is done, so that drawing and encoding them never take the CPU
    from the pipeline they show (on a small machine they cost as much as a model step).
    """

    def __init__(
        self,
        endpoint: str,
        out: Path,
        dataset: Any,
        sequences: Mapping[str, str],
        sinks: tuple[Sink, ...] = (),
    ) -> None:
        super().__init__(name="vkstream-demo-subscriber", daemon=True)
        self.subscriber = Subscriber(endpoint)
        self.recorder = StreamRecorder(out, fps=10.0)
        self.summary = LatencySummary()
        self.dataset = dataset
        self.sequences = dict(sequences)
        self.sinks = sinks
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self._received: list[StreamResult] = []

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                result = self.subscriber.receive(timeout=0.1)
                if result is None:
                    continue
                self.summary.add(result)
                self._received.append(result)
                if self.sinks:
                    frame = self._frame(result)
                    for sink in self.sinks:
                        sink.add(result, frame.image, intrinsics_at(frame, result.size))
        except BaseException as exc:  # re-raised by finish(), in the caller's thread
            self.error = exc

    def finish(self) -> list[Path]:
        """Stop, draw the videos, close the files and return them; raises what stopped the thread
        early, if anything."""
        self.stopping.set()
        self.join(10.0)
        self.subscriber.close()
        try:
            if self.error is None:
                for result in self._received:
                    self.recorder.add(result, self._frame(result).image)
        finally:
            self._received.clear()
            files = self.recorder.close()
        if self.error is not None:
            raise self.error
        return list(files)

    def _frame(self, result: StreamResult) -> Any:
        name = self.sequences[result.stream]
        return self.dataset.read_frame(name, min(result.seq, self.dataset.num_frames(name) - 1))


def intrinsics_at(frame: Any, size: tuple[int, int]) -> Any:
    """The frame's intrinsics at the result's size (None when the replay has none)."""
    k, image = frame.intrinsics, frame.image
    if k is None or image.shape[:2] == size:
        return k
    return k.scaled(size[1] / image.shape[1], size[0] / image.shape[0])
