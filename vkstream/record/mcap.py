"""Write results into one MCAP file with Foxglove's message schemas (topics: :mod:`.channels`).

The pipeline's recorder node and ``vkstream listen --mcap`` both write through
:class:`~.output.FoxgloveOutput`; :func:`open_recording` adds an MCAP sink to any
:class:`~.channels.ResultChannels`, so a subscriber can record and serve live from the same messages.
"""

from __future__ import annotations

import os
from pathlib import Path

import foxglove

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
