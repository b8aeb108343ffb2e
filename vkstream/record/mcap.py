"""Write results into one MCAP file with Foxglove's message schemas (topics: :mod:`.channels`).

The pipeline's recorder node and ``vkstream listen --mcap`` both write through
:class:`~.output.FoxgloveOutput`; :func:`open_recording` adds an MCAP sink to any
:class:`~.channels.ResultChannels`, so a subscriber can record and serve live from the same messages.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import foxglove
from foxglove.mcap import MCAPCompression, MCAPWriteOptions

from vkstream.record.channels import ResultChannels

Compression = Literal["lz4", "zstd", "none"]
"""MCAP chunk compression. lz4 by default: at 621x188 it costs a recording 6 ms of CPU per frame
against 9 for zstd (files a quarter larger), on the recording thread alone, so a recorder running
beside a model on a small CPU takes as little from it as it can."""


def open_recording(
    path: str | os.PathLike[str],
    channels: ResultChannels,
    *,
    overwrite: bool = False,
    compression: Compression = "lz4",
) -> foxglove.MCAPWriter:
    """An MCAP writer on ``channels``' context; ValueError, naming the file, when it cannot be written.

    Chunks are compressed on the calling thread (the SDK's default spreads zstd over every core)."""
    path = Path(path)
    if compression not in _COMPRESSION:
        raise ValueError(f"MCAP compression must be one of {', '.join(_COMPRESSION)}, got {compression!r}")
    if path.suffix != ".mcap":
        raise ValueError(f"recording {path} must be named *.mcap")
    if path.is_dir():
        raise ValueError(f"recording {path} is a folder")
    if path.exists() and not overwrite:
        raise ValueError(f"recording {path} exists (set overwrite to replace it)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        options = MCAPWriteOptions(
            compression=_COMPRESSION[compression], compression_threads=0 if compression == "zstd" else None
        )
        return foxglove.open_mcap(
            path, allow_overwrite=overwrite, context=channels.context, writer_options=options
        )
    except (OSError, RuntimeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"cannot write recording {path}: {reason}") from None


_COMPRESSION = {"lz4": MCAPCompression.Lz4, "zstd": MCAPCompression.Zstd, "none": None}
