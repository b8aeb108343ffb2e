"""What every camera ingest source shares: the frame it yields, its error, its life cycle and resizing."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import cv2
import numpy as np
from pydantic import BaseModel

from vkstream.data.frame import Frame, Intrinsics

S = TypeVar("S")


class SourceError(Exception):
    """A source cannot be opened or stopped delivering; the one-line message names the source."""


@dataclass
class CapturedFrame:
    """One frame as it left the source."""

    image: np.ndarray
    """HxWx3 uint8 RGB, C-contiguous; frames of a preloaded replay are shared and read-only."""
    stamp_ns: int
    """Capture time, Unix nanoseconds: when a live frame was grabbed, when a replayed one was emitted."""
    meta: dict[str, Any] = field(default_factory=dict)
    """``intrinsics`` (Intrinsics | None, for the published size) and source-specific extras."""
    restart: bool = False
    """The stream is discontinuous before this frame: first frame after open(), or a loop wrapped."""
    truth: Frame | None = None
    """A replay's labels and depth of the frame, at the published size."""


class FrameSource(ABC, Generic[S]):
    """A camera, stream, file or dataset replay that yields frames one by one.

    ``Spec`` is its config (a pydantic model whose ``kind`` literal is the source's registered name).
    Not thread-safe: open, read and close from one thread. open() on an open source reopens it,
    which is how a caller reconnects after a SourceError from read().
    """

    Spec: ClassVar[type[BaseModel]]
    live: ClassVar[bool] = False
    """Live devices and URLs have no end and are not paced; files and replays are finite."""

    def __init__(self, spec: S):
        self.spec = spec
        self._opened = False
        self._restart = True

    @abstractmethod
    def describe(self) -> str:
        """Short human text naming the source, for logs and error messages."""

    @abstractmethod
    def _open(self) -> None:
        """Acquire the device, stream or files; raise SourceError('cannot open ...: why')."""

    @abstractmethod
    def _read(self) -> CapturedFrame | None:
        """The next frame (built with :meth:`_emit`), None at the end of a finite source."""

    @abstractmethod
    def _close(self) -> None:
        """Release whatever _open acquired; safe to call on a half-opened source."""

    def open(self) -> None:
        self.close()
        try:
            self._open()
        except BaseException:
            self._close()
            raise
        self._opened = True
        self._restart = True

    def read(self) -> CapturedFrame | None:
        """Block until the next frame is due; None when a finite, non-looping source has ended."""
        if not self._opened:
            raise RuntimeError(f"{self.describe()}: read() before open()")
        return self._read()

    def close(self) -> None:
        self._opened = False
        self._close()

    def __enter__(self) -> FrameSource[S]:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _emit(self, image: np.ndarray, meta: dict[str, Any], truth: Frame | None = None) -> CapturedFrame:
        """Stamp a ready frame now and mark it discontinuous if it is the first since open or a wrap."""
        frame = CapturedFrame(image, time.time_ns(), meta, self._restart, truth)
        self._restart = False
        return frame


def resize_image(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Resize to (width, height): area averaging when shrinking (no aliasing), bilinear otherwise."""
    if size is None or (image.shape[1], image.shape[0]) == size:
        return image
    shrinking = size[0] * size[1] < image.shape[0] * image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def resize_nearest(array: np.ndarray | None, size: tuple[int, int] | None) -> np.ndarray | None:
    """Resize labels or depth to (width, height) without inventing values between neighbours."""
    if array is None or size is None or (array.shape[1], array.shape[0]) == size:
        return array
    return cv2.resize(array, size, interpolation=cv2.INTER_NEAREST)


def scale_intrinsics(
    intrinsics: Intrinsics | None, native: tuple[int, int], size: tuple[int, int] | None
) -> Intrinsics | None:
    """Intrinsics of a (width, height) ``native`` image after resizing it to ``size``."""
    if intrinsics is None or size is None or size == native:
        return intrinsics
    return intrinsics.scaled(size[0] / native[0], size[1] / native[1])


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """OpenCV's BGR (or grey, or BGRA) frame as a new C-contiguous RGB array."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
