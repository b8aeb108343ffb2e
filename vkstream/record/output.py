"""Results to an MCAP file, a live Foxglove server, or both at once from the same messages.

What ``vkstream listen --mcap/--foxglove`` and ``vkstream demo --foxglove`` write through: each message
is built once (:class:`~.channels.ResultChannels`) however many sinks take it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from vkstream.client import StreamResult
from vkstream.data.frame import Intrinsics
from vkstream.record.channels import ResultChannels
from vkstream.record.live import LiveAddress, start_live_server
from vkstream.record.mcap import Compression, open_recording

_INTRINSICS = re.compile(r"(?:(?P<stream>[^=]+)=)?(?P<values>[^=]+)")


class FoxgloveOutput:
    """``add`` results and they are recorded into ``mcap`` and served live on ``live`` (either may be
    None); ``close`` finishes the file and stops the server. ``intrinsics`` by stream id (None: every
    other stream) give the calibration of results added without their own; ``compression`` is the
    MCAP file's chunk compression."""

    def __init__(
        self,
        mcap: str | os.PathLike[str] | None = None,
        live: LiveAddress | None = None,
        *,
        overwrite: bool = False,
        allow_remote: bool = False,
        intrinsics: Mapping[str | None, Intrinsics] | None = None,
        compression: Compression = "lz4",
    ) -> None:
        self.channels = ResultChannels()
        self.intrinsics = dict(intrinsics or {})
        self.path = None if mcap is None else Path(mcap)
        self.address: LiveAddress | None = None
        self._closers: list[Callable[[], object]] = []
        try:
            if self.path is not None:
                writer = open_recording(
                    self.path, self.channels, overwrite=overwrite, compression=compression
                )
                self._closers.append(writer.close)
            if live is not None:
                server = start_live_server(live, self.channels, allow_remote=allow_remote)
                self._closers.append(server.stop)
                self.address = replace(live, port=server.port)
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str | None:
        """What to open in Foxglove (Open connection, Foxglove WebSocket); None when not serving."""
        return None if self.address is None else f"ws://{self.address}"

    @property
    def messages(self) -> int:
        """Results added so far."""
        return self.channels.messages

    def add(
        self,
        result: StreamResult,
        image: np.ndarray | None = None,
        intrinsics: Intrinsics | None = None,
        *,
        lost: int | None = None,
    ) -> None:
        if intrinsics is None:
            intrinsics = self.intrinsics.get(result.stream, self.intrinsics.get(None))
        self.channels.add(result, image, intrinsics, lost=lost)

    def close(self) -> None:
        """Finish the recording and stop serving (idempotent)."""
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> FoxgloveOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_intrinsics(texts: list[str] | None) -> dict[str | None, Intrinsics]:
    """``[STREAM=]FX,FY,CX,CY`` values -> intrinsics by stream id (None: every other stream)."""
    out: dict[str | None, Intrinsics] = {}
    for text in texts or []:
        match = _INTRINSICS.fullmatch(text.strip())
        try:
            values = [float(v) for v in match.group("values").split(",")] if match else []
        except ValueError:
            values = []
        if len(values) != 4 or not all(v == v and abs(v) < 1e9 for v in values) or min(values[:2]) <= 0:
            raise ValueError(
                f"invalid intrinsics '{text}': expected [STREAM=]FX,FY,CX,CY in pixels, such as "
                "cam0=721.5,721.5,609.6,172.9"
            )
        stream = match.group("stream") if match else None
        if stream in out:
            raise ValueError(f"invalid intrinsics '{text}': {stream or 'the default'} is given twice")
        out[stream] = Intrinsics(*values)
    return out
