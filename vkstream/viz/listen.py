"""What ``vkstream listen`` does with a subscriber: one line per stream every interval (rate, latency,
segments, drops and losses) until a count or a deadline, the totals at the end, and saved PNGs."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vkstream.client import StreamResult, Subscriber, WireFormatError


@dataclass
class _Window:
    """Statistics of one stream since the last report."""

    messages: int = 0
    total_ms: list[float] = field(default_factory=list)
    age_ms: list[float] = field(default_factory=list)
    segments: int = 0
    things: int = 0
    dropped: int = 0


@dataclass
class ListenReport:
    """Messages received (per stream) and undecodable, and the seconds it took."""

    totals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    bad: int = 0
    elapsed_s: float = 0.0

    @property
    def messages(self) -> int:
        return sum(self.totals.values())

    def summary(self, lost: int) -> list[str]:
        """The closing lines: totals (``lost``: on the way, all streams), then each stream's count."""
        head = (
            f"received {self.messages} messages from {len(self.totals)} stream(s) in {self.elapsed_s:.1f} s"
        )
        lines = [f"{head} ({lost} lost, {self.bad} bad)"]
        return lines + [f"  {stream}: {self.totals[stream]} messages" for stream in sorted(self.totals)]


def listen(
    sub: Subscriber,
    *,
    count: int | None = None,
    streams: Sequence[str] | None = None,
    duration: float | None = None,
    interval: float = 1.0,
    sinks: Sequence[Any] = (),
    save: Path | None = None,
    save_every: int = 1,
    echo: Callable[[str], None] = print,
) -> ListenReport:
    """Receive until every stream has sent ``count`` messages, or for ``duration`` seconds (or until
    Ctrl-C), reporting every ``interval``.

    ``count`` is per stream, so a recording of several cameras holds as many frames of each: every
    stream in ``streams`` (when given) and every other stream heard from must reach it. A stream that
    starts after the others have reached it is not waited for.

    SIGTERM stops it as Ctrl-C does (in the main thread), so a recording stopped by a service manager
    is finished. Each result goes to every sink's ``add(result, lost=...)`` (such as a
    :class:`vkstream.record.FoxgloveOutput`); one in ``save_every`` per stream is saved as PNGs in ``save``.
    """
    start = time.monotonic()
    deadline = None if duration is None else start + duration
    windows: dict[str, _Window] = defaultdict(_Window)
    report = ListenReport()
    next_report = start + interval

    def lines() -> None:
        for line in _report(windows, sub.stats.lost, time.monotonic() - start, interval):
            echo(line)

    with contextlib.suppress(KeyboardInterrupt), _sigterm_interrupts():
        while not count_reached(report.totals, count, streams):
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            wait = next_report - now if deadline is None else min(next_report, deadline) - now
            try:
                result = sub.receive(timeout=max(wait, 0.0))
            except WireFormatError as exc:
                report.bad += 1
                print(f"bad message on {exc.topic!r}: {exc}", file=sys.stderr)
                continue
            if result is not None:
                report.totals[result.stream] += 1
                _add(windows[result.stream], result)
                for sink in sinks:
                    sink.add(result, lost=sub.stats.lost.get(result.stream, 0))
                if save is not None and (report.totals[result.stream] - 1) % save_every == 0:
                    save_pngs(save, result)
            if time.monotonic() >= next_report:
                lines()
                next_report += interval * max(1, int((time.monotonic() - next_report) // interval) + 1)
    if any(w.messages for w in windows.values()):
        lines()
    report.elapsed_s = time.monotonic() - start
    return report


def count_reached(totals: dict[str, int], count: int | None, streams: Sequence[str] | None) -> bool:
    """Every wanted stream (``streams``, or those heard from) has sent ``count`` messages."""
    if count is None:
        return False
    wanted = set(streams or ()) | set(totals)
    return bool(wanted) and all(totals.get(stream, 0) >= count for stream in wanted)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt while inside (where signals can be handled: the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _add(window: _Window, result: StreamResult) -> None:
    window.messages += 1
    window.total_ms.append(result.latency_ms["total"])
    if result.age_ms is not None:
        window.age_ms.append(result.age_ms)
    window.segments += len(result.segments)
    window.things += sum(seg.thing for seg in result.segments)
    window.dropped = result.dropped


def _report(windows: dict[str, _Window], lost: dict[str, int], elapsed: float, interval: float) -> list[str]:
    out = []
    for stream in sorted(windows):
        w = windows[stream]
        if not w.messages:
            out.append(f"[{elapsed:7.1f} s] {stream}: no messages")
            continue
        out.append(
            f"[{elapsed:7.1f} s] {stream}: {w.messages / interval:6.1f} msg/s"
            f"  latency {_mean(w.total_ms):7.1f} ms (max {max(w.total_ms):7.1f})"
            f"  capture-to-here {_mean(w.age_ms):7.1f} ms"
            f"  segments {w.segments / w.messages:5.1f} ({w.things / w.messages:.1f} things)"
            f"  dropped {w.dropped}  lost {lost.get(stream, 0)}"
        )
        windows[stream] = _Window()
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def save_pngs(folder: Path, result: StreamResult) -> None:
    """``FOLDER/STREAM/SEQ_panoptic.png`` and ``SEQ_depth.png``, colourised."""
    from vkstream.data import colorize_depth, write_png
    from vkstream.viz.annotate import colorize_result

    base = folder / result.stream / f"{result.seq:06d}"
    write_png(base.with_name(base.name + "_panoptic.png"), colorize_result(result))
    write_png(base.with_name(base.name + "_depth.png"), colorize_depth(result.depth.astype("float32")))
