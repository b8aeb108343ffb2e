"""Sources read through ``cv2.VideoCapture``: video files, local cameras and network streams."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from vkstream.nodes.sources.base import (
    CapturedFrame,
    FrameSource,
    SourceError,
    resize_image,
    scale_intrinsics,
    to_rgb,
)
from vkstream.nodes.sources.pacing import Pacer
from vkstream.nodes.sources.specs import CameraSpec, UrlSpec, VideoFileSpec

log = logging.getLogger(__name__)

DEFAULT_VIDEO_FPS = 10.0
"""Used when a file does not state its frame rate."""
V4L_SELECT_TIMEOUT_S = "3"
"""OpenCV's V4L2 backend waits 10 s (OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT) for each frame of a stalled
camera and does not honour CAP_PROP_READ_TIMEOUT_MSEC; the variable is read once per process, at the
first camera read, so it is set (unless already set) before the first camera opens."""

C = TypeVar("C", VideoFileSpec, CameraSpec, UrlSpec)


class _CaptureSource(FrameSource[C]):
    """The VideoCapture life cycle and frame conversion shared by files, cameras and URLs."""

    def __init__(self, spec: C):
        super().__init__(spec)
        self._cap: cv2.VideoCapture | None = None
        self._intrinsics = spec.intrinsics.to_intrinsics() if spec.intrinsics is not None else None

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _grab(self) -> np.ndarray | None:
        if self._cap is None:  # a failed reopen (loop) left nothing to read from
            raise SourceError(f"{self.describe()}: not open")
        ok, frame = self._cap.read()
        return frame if ok and frame is not None and frame.size else None

    def _frame(self, bgr: np.ndarray) -> CapturedFrame:
        native = (bgr.shape[1], bgr.shape[0])
        image = to_rgb(resize_image(bgr, self.spec.resize))
        meta: dict[str, Any] = {"intrinsics": scale_intrinsics(self._intrinsics, native, self.spec.resize)}
        return self._emit(image, meta)


class VideoFileSource(_CaptureSource[VideoFileSpec]):
    """A video file paced at its own frame rate times ``speed``, optionally looping."""

    Spec = VideoFileSpec

    def __init__(self, spec: VideoFileSpec):
        super().__init__(spec)
        self._pacer = Pacer(spec.speed)
        self.fps: float | None = None
        self._frames = 0
        self._ended = False

    def describe(self) -> str:
        speed = self.spec.speed
        rate = f" @{self.fps:g} fps" if self.fps else ""
        pace = "" if speed == 1 else (" unpaced" if speed == 0 else f" x{speed:g}")
        return f"video {self.spec.path}{rate}{pace}"

    def _open(self) -> None:
        path = self.spec.path
        if not path.exists():
            raise SourceError(f"cannot open video file {path}: no such file")
        if not path.is_file():
            raise SourceError(f"cannot open video file {path}: not a file")
        self._cap = self._capture()
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if math.isfinite(fps) and 0 < fps <= 1000 else DEFAULT_VIDEO_FPS
        self._pacer.reset()
        self._frames = 0
        self._ended = False

    def _capture(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.spec.path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open video file {self.spec.path}: FFmpeg cannot read it as a video")
        return cap

    def _read(self) -> CapturedFrame | None:
        if self._ended:
            return None
        bgr = self._grab()
        if bgr is None:
            if self._frames == 0:
                raise SourceError(f"{self.spec.path}: no frame could be decoded")
            if not self.spec.loop:
                self._ended = True
                return None
            self._close()
            self._cap = self._capture()
            self._frames = 0
            self._restart = True
            bgr = self._grab()
            if bgr is None:
                raise SourceError(f"{self.spec.path}: no frame could be decoded after looping")
        self._frames += 1
        assert self.fps is not None
        self._pacer.wait(1.0 / self.fps)
        return self._frame(bgr)


class CameraSource(_CaptureSource[CameraSpec]):
    """A local camera: V4L2 on Linux, the platform's default API elsewhere."""

    Spec = CameraSpec

    live = True

    def describe(self) -> str:
        device = self.spec.device
        return f"camera /dev/video{device}" if isinstance(device, int) else f"camera {device}"

    def _open(self) -> None:
        spec = self.spec
        if isinstance(spec.device, str) and not os.path.exists(spec.device):
            raise SourceError(f"cannot open {self.describe()}: no such device")
        backend = cv2.CAP_ANY
        if sys.platform.startswith("linux"):
            backend = cv2.CAP_V4L2
            os.environ.setdefault("OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT", V4L_SELECT_TIMEOUT_S)
        self._cap = cv2.VideoCapture(spec.device, backend)
        if not self._cap.isOpened():
            raise SourceError(
                f"cannot open {self.describe()}: no such camera, no permission, or it is in use"
            )
        # The pixel format first: it limits which sizes and rates the driver accepts.
        if spec.fourcc is not None:
            self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*spec.fourcc))
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, spec.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, spec.height),
            (cv2.CAP_PROP_FPS, spec.fps),
        ):
            if value is not None:
                self._cap.set(prop, value)
        self._check_settings()

    def _check_settings(self) -> None:
        """Warn when the driver chose another size or rate than asked: it does so silently."""
        assert self._cap is not None
        asked = {"width": self.spec.width, "height": self.spec.height, "fps": self.spec.fps}
        got = {
            "width": self._cap.get(cv2.CAP_PROP_FRAME_WIDTH),
            "height": self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT),
            "fps": self._cap.get(cv2.CAP_PROP_FPS),
        }
        for name, value in asked.items():
            if value is not None and got[name] > 0 and abs(got[name] - value) > 0.5:
                log.warning("%s: asked for %s %s, got %g", self.describe(), name, value, got[name])

    def _read(self) -> CapturedFrame | None:
        bgr = self._grab()
        if bgr is None:
            raise SourceError(f"{self.describe()}: stream ended or disconnected")
        return self._frame(bgr)


class UrlSource(_CaptureSource[UrlSpec]):
    """A network stream through FFmpeg, with open and read timeouts so a dead server is noticed."""

    Spec = UrlSpec

    live = True

    def describe(self) -> str:
        return redact_url(self.spec.url)

    def _open(self) -> None:
        spec = self.spec
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            round(spec.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            round(spec.read_timeout_s * 1000),
        ]
        start = time.monotonic()
        self._cap = cv2.VideoCapture(spec.url, cv2.CAP_FFMPEG, params)
        if not self._cap.isOpened():
            if time.monotonic() - start >= 0.9 * spec.open_timeout_s:
                why = f"no answer within {spec.open_timeout_s:g} s"
            else:
                why = "connection refused, or not a video stream"
            raise SourceError(f"cannot open {self.describe()}: {why}")

    def _read(self) -> CapturedFrame | None:
        start = time.monotonic()
        bgr = self._grab()
        if bgr is None:
            if time.monotonic() - start >= 0.9 * self.spec.read_timeout_s:
                raise SourceError(f"{self.describe()}: no frame for {self.spec.read_timeout_s:g} s")
            raise SourceError(f"{self.describe()}: stream ended or disconnected")
        return self._frame(bgr)


def redact_url(url: str) -> str:
    """The URL without its password, fit for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
