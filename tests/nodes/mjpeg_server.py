"""A network camera for tests: MJPEG over HTTP on 127.0.0.1, the format of most IP cameras' HTTP streams.

    server = MjpegServer(size=(64, 48), fps=20)
    server.start()                     # binds a free port the first time, the same port after
    cv2.VideoCapture(server.url)       # http://127.0.0.1:PORT/stream.mjpg
    server.pause(); server.resume()    # stop/restart sending on open connections (a stalled camera)
    server.stop()                      # closes the listening socket and drops every connection
    frame_number(rgb)                  # the counter drawn into a received frame (render_frame draws it)

One producer thread renders frames at ``fps``; every connection gets the newest frame it has not
sent yet, so a slow client skips frames as with a real camera. Frame numbers count from 0 and keep
counting across stop/start. Each frame shows its number as a 4x4 grid of black/white cells (16 bits,
least significant bit top-left), large enough to survive JPEG.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np

BOUNDARY = "frame"
PATH = "/stream.mjpg"
GRID = 4


def render_frame(number: int, size: tuple[int, int]) -> np.ndarray:
    """The RGB frame carrying ``number`` (mod 2**16) for a (width, height) stream."""
    width, height = size
    bits = np.array([(number >> i) & 1 for i in range(GRID * GRID)], np.uint8).reshape(GRID, GRID) * 255
    cells = cv2.resize(bits, (width, height), interpolation=cv2.INTER_NEAREST)
    return np.repeat(cells[:, :, None], 3, axis=2)


def frame_number(image: np.ndarray) -> int:
    """The number :func:`render_frame` drew into a received (possibly JPEG-coded or resized) frame."""
    grey = image.mean(axis=2) if image.ndim == 3 else image
    height, width = grey.shape
    number = 0
    for i in range(GRID * GRID):
        row, col = divmod(i, GRID)
        y, x = int((row + 0.5) * height / GRID), int((col + 0.5) * width / GRID)
        number |= int(grey[y, x] > 127) << i
    return number


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: MjpegServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is no error
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        if self.path.split("?")[0] != PATH:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        owner._serve(self.connection, self.wfile)


class MjpegServer:
    """See the module docstring; ``size`` is (width, height), ``port`` 0 picks a free one."""

    def __init__(self, size: tuple[int, int] = (64, 48), fps: float = 20.0, port: int = 0, quality: int = 90):
        self.size = size
        self.fps = fps
        self.port = port
        self.quality = quality
        self.frames_sent = 0
        """Frames produced so far (the next frame's number)."""
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._running = threading.Event()
        self._paused = threading.Event()
        self._newest = threading.Condition()
        self._frame: tuple[int, bytes] | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("start() the server first: its port is picked then")
        return f"http://127.0.0.1:{self.port}{PATH}"

    def start(self) -> MjpegServer:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.owner = self
        self._server = server
        self.port = server.server_address[1]
        self._running.set()
        self._threads = [
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True),
            threading.Thread(target=self._produce, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket and drop every open connection, like a camera losing power."""
        server, self._server = self._server, None
        if server is None:
            return
        self._running.clear()
        with self._newest:
            self._newest.notify_all()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

    def pause(self) -> None:
        """Keep connections open but send nothing: a stalled camera."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _produce(self) -> None:
        period = 1.0 / self.fps
        due = time.monotonic()
        while self._running.is_set():
            if not self._paused.is_set():
                rgb = render_frame(self.frames_sent, self.size)
                ok, jpeg = cv2.imencode(
                    ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, self.quality]
                )
                assert ok
                with self._newest:
                    self._frame = (self.frames_sent, jpeg.tobytes())
                    self._newest.notify_all()
                self.frames_sent += 1
            due = max(due + period, time.monotonic() - period)
            time.sleep(max(due - time.monotonic(), 0))

    def _after(self, sent: int) -> tuple[int, bytes] | None:
        """The newest frame if it is newer than ``sent``, waiting up to half a second for one."""
        with self._newest:
            self._newest.wait_for(
                lambda: not self._running.is_set() or (self._frame is not None and self._frame[0] > sent),
                timeout=0.5,
            )
            frame = self._frame
        if not self._running.is_set() or frame is None or frame[0] <= sent:
            return None
        return frame

    def _serve(self, conn: socket.socket, out: Any) -> None:
        with self._lock:
            if not self._running.is_set():
                return
            self._connections.add(conn)
        sent = -1
        try:
            while self._running.is_set():
                frame = self._after(sent)
                if frame is None:
                    continue
                sent, data = frame
                header = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                out.write(header.encode() + data + b"\r\n")
                out.flush()
        except OSError:
            return
        finally:
            with self._lock:
                self._connections.discard(conn)
