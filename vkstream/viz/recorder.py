"""Record received results as annotated per-stream videos and contact strips, for review after a run."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vkstream.client import StreamResult
from vkstream.data import write_png
from vkstream.viz.annotate import annotate

VIDEO_FORMATS = (("mp4v", ".mp4"), ("MJPG", ".avi"))
"""Tried in order: MPEG-4 Part 2 needs no licensed encoder, so headless OpenCV wheels have it; MJPG
is the fallback every FFmpeg build writes."""


def file_stem(stream: str) -> str:
    """``stream`` as one file name: ids may hold ``/`` between parts (and ``..`` as a part), so flatten."""
    return stream.replace("/", "__")


@dataclass
class _Stream:
    """One stream's video writer and strip thumbnails, fixed to the first frame's size."""

    size: tuple[int, int]
    """(width, height) of the first annotated frame; later frames are resized to it."""
    writer: cv2.VideoWriter | None = None
    path: Path | None = None
    last_seq: int | None = None
    position: int = -1
    """Frame position from the stream's first result, following seq gaps but never going backwards."""
    stride: int = 1
    thumbs: dict[int, np.ndarray] = field(default_factory=dict)
    """Strip bucket (position // stride) -> thumbnail of the first frame that landed in it."""


class StreamRecorder:
    """Write ``<out_dir>/<stream>.mp4`` (or ``.avi``) and ``<out_dir>/<stream>_strip.png`` per stream.

    ``/`` in a stream id becomes ``__`` in its file names (:func:`file_stem`).

    Each :meth:`add` annotates a result (see :func:`annotate`) and appends it to its stream's video,
    opened lazily at the first frame's size (padded to even sides, which 4:2:0 codecs need). The
    strip holds at most ``strip_frames`` frames evenly spaced over the whole recording: a frame is kept
    per ``strip_every`` seqs, and the spacing doubles whenever more would be kept, so memory stays
    bounded however long the run. ``strip_frames=0`` or ``video=False`` turn either output off.
    :meth:`close` (idempotent; also on leaving a ``with``) finalises everything; ``files`` lists what
    was written.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        fps: float = 10.0,
        video: bool = True,
        strip_every: int = 10,
        *,
        strip_frames: int = 8,
        strip_columns: int = 4,
        strip_scale: float = 0.5,
        alpha: float = 0.5,
        max_depth: float = 80.0,
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if strip_every < 1 or strip_frames < 0 or strip_columns < 1:
            raise ValueError("strip_every and strip_columns must be at least 1, strip_frames at least 0")
        if not 0 < strip_scale <= 1:
            raise ValueError(f"strip_scale must be in (0, 1], got {strip_scale}")
        self.out_dir = Path(out_dir)
        self.fps = float(fps)
        self.video = video
        self.strip_every = strip_every
        self.strip_frames = strip_frames
        self.strip_columns = strip_columns
        self.strip_scale = strip_scale
        self.alpha = alpha
        self.max_depth = max_depth
        self.files: list[Path] = []
        self._streams: dict[str, _Stream] = {}
        self._closed = False

    def add(self, result: StreamResult, image: np.ndarray | None = None) -> np.ndarray:
        """Record ``result`` (over the camera ``image`` if given); returns the annotated RGB frame."""
        if self._closed:
            raise RuntimeError("the recorder is closed")
        panel = annotate(result, image, alpha=self.alpha, max_depth=self.max_depth)
        state = self._streams.get(result.stream)
        if state is None:
            state = self._streams[result.stream] = _Stream(size=(panel.shape[1], panel.shape[0]))
        if (panel.shape[1], panel.shape[0]) != state.size:
            panel = cv2.resize(panel, state.size, interpolation=cv2.INTER_AREA)
        if self.video:
            self._write(result.stream, state, panel)
        if self.strip_frames:
            self._keep(state, result.seq, panel)
        return panel

    def close(self) -> list[Path]:
        """Finalise the videos and write the strips; returns the files written (also in ``files``)."""
        if self._closed:
            return self.files
        self._closed = True
        for state in self._streams.values():  # videos first: a failing strip must not leave them open
            if state.writer is not None:
                state.writer.release()
                if state.path is not None:
                    self.files.append(state.path)
        for stream, state in self._streams.items():
            if state.thumbs:
                path = self.out_dir / f"{file_stem(stream)}_strip.png"
                write_png(path, self._strip(state))
                self.files.append(path)
        self._streams.clear()
        return self.files

    def __enter__(self) -> StreamRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, stream: str, state: _Stream, panel: np.ndarray) -> None:
        width, height = state.size
        even = (width + width % 2, height + height % 2)
        if state.writer is None:
            state.writer, state.path = self._open(stream, even)
        if even != state.size:
            panel = np.pad(panel, ((0, even[1] - height), (0, even[0] - width), (0, 0)))
        state.writer.write(cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))

    def _open(self, stream: str, size: tuple[int, int]) -> tuple[cv2.VideoWriter, Path]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for fourcc, suffix in VIDEO_FORMATS:
            path = self.out_dir / f"{file_stem(stream)}{suffix}"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), self.fps, size)
            if writer.isOpened():
                return writer, path
            writer.release()
            path.unlink(missing_ok=True)
        raise RuntimeError(f"OpenCV cannot write video here (tried {', '.join(f for f, _ in VIDEO_FORMATS)})")

    def _keep(self, state: _Stream, seq: int, panel: np.ndarray) -> None:
        """Keep the first frame per bucket of ``strip_every * stride`` positions; double on overflow."""
        step = seq - state.last_seq if state.last_seq is not None and seq > state.last_seq else 1
        state.position += step
        state.last_seq = seq
        bucket = state.position // (self.strip_every * state.stride)
        if bucket in state.thumbs:
            return
        width, height = state.size
        thumb_size = (max(1, round(width * self.strip_scale)), max(1, round(height * self.strip_scale)))
        state.thumbs[bucket] = cv2.resize(panel, thumb_size, interpolation=cv2.INTER_AREA)
        while len(state.thumbs) > self.strip_frames:
            state.stride *= 2
            merged: dict[int, np.ndarray] = {}
            for old in sorted(state.thumbs):  # the earliest frame of each merged pair of buckets
                merged.setdefault(old // 2, state.thumbs[old])
            state.thumbs = merged

    def _strip(self, state: _Stream) -> np.ndarray:
        thumbs = [state.thumbs[b] for b in sorted(state.thumbs)]
        columns = min(len(thumbs), self.strip_columns)
        rows = math.ceil(len(thumbs) / columns)
        th, tw = thumbs[0].shape[:2]
        sheet = np.zeros((rows * th, columns * tw, 3), dtype=np.uint8)
        for i, thumb in enumerate(thumbs):
            r, c = divmod(i, columns)
            sheet[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = thumb
        return sheet
