"""Write results into one MCAP file with Foxglove's message schemas (topics: :mod:`.channels`).

The pipeline's recorder node and ``vkstream listen --mcap`` both write through :class:`McapRecorder`;
:func:`open_recording` adds an MCAP sink to any :class:`~.channels.ResultChannels`, so a subscriber can
record and serve live from the same messages.
"""

from __future__ import annotations

import os
from pathlib import Path

import foxglove
import numpy as np

from vkstream.client import StreamResult
from vkstream.data.frame import Intrinsics
from vkstream.record.channels import ResultChannels


def open_recording(
    path: str | os.PathLike[str], channels: ResultChannels, *, overwrite: bool = False
) -> foxglove.MCAPWriter:
    """An MCAP writer on ``channels``' context; ValueError, naming the file, when it cannot be written."""
    path = Path(path)
    if path.suffix != ".mcap":
        raise ValueError(f"recording {path} must be named *.mcap")
    if path.is_dir():
        raise ValueError(f"recording {path} is a folder")
    if path.exists() and not overwrite:
        raise ValueError(f"recording {path} exists (set overwrite to replace it)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return foxglove.open_mcap(path, allow_overwrite=overwrite, context=channels.context)
    except (OSError, RuntimeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"cannot write recording {path}: {reason}") from None


class McapRecorder:
    """``add`` results (with the camera image where there is one); ``close`` finishes the file."""

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.path = Path(path)
        self._channels = ResultChannels()
        self._writer: foxglove.MCAPWriter | None = open_recording(
            self.path, self._channels, overwrite=overwrite
        )

    @property
    def messages(self) -> int:
        """Results recorded so far."""
        return self._channels.messages

    def add(
        self,
        result: StreamResult,
        image: np.ndarray | None = None,
        intrinsics: Intrinsics | None = None,
        *,
        lost: int | None = None,
    ) -> None:
        self._channels.add(result, image, intrinsics, lost=lost)

    def close(self) -> Path:
        """Finish the file (idempotent); returns its path."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return self.path

    def __enter__(self) -> McapRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
