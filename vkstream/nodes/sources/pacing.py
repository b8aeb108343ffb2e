"""Replay pacing: files and datasets are released at their recorded rate, like a camera would."""

from __future__ import annotations

import math
import time


class Pacer:
    """Releases frames at their due times on the monotonic clock.

    Each frame is due ``interval / speed`` seconds after the previous one's due time, so the schedule
    does not drift with decoding time. A consumer that falls more than one period behind gets a new
    schedule anchored at the current frame instead of a burst of overdue frames, as a camera, which
    never delivers frames faster than it captures them, would. ``speed`` 0 releases every frame
    at once.
    """

    def __init__(self, speed: float):
        if not (math.isfinite(speed) and speed >= 0):
            raise ValueError(f"speed must be a finite number >= 0, got {speed}")
        self.speed = speed
        self._due: float | None = None

    def reset(self) -> None:
        """Start a new schedule: the next frame is due at once."""
        self._due = None

    def wait(self, interval: float) -> None:
        """Sleep until the next frame, ``interval`` media seconds after the previous one, is due."""
        if self.speed == 0:
            return
        now = time.monotonic()
        if self._due is None:
            self._due = now
            return
        period = max(interval, 0.0) / self.speed
        self._due += period
        if now - self._due > period:
            self._due = now
        elif self._due > now:
            time.sleep(self._due - now)
