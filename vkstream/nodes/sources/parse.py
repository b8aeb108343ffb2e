"""The command line's shorthand for a source: a camera index, a device, a URL, a file or a folder."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from vkstream.data.datasets import detect_layout
from vkstream.data.errors import DatasetError
from vkstream.nodes.sources.specs import (
    CameraSpec,
    ImageFolderSpec,
    KittiReplaySpec,
    SourceOptions,
    UrlSpec,
    VideoFileSpec,
    check_url,
)

KITTI_PREFIX = "kitti:"


def parse_source(text: str) -> SourceOptions:
    """The source ``text`` names, with default options.

    ``0``, ``/dev/video0``: a camera. ``rtsp://...``, ``http://...``: a network stream.
    ``kitti:ROOT`` or ``kitti:ROOT:SEQUENCE``: a dataset replay. An existing folder: a dataset replay
    when it holds a KITTI layout, else an image folder. An existing file: a video.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty source: expected a camera index, URL, video file or folder")
    if text.isdigit():
        return CameraSpec(device=int(text))
    if text.startswith(("/dev/video", "/dev/v4l/")):
        return CameraSpec(device=text)
    if "://" in text:
        check_url(text)
        return UrlSpec(url=text)
    if text.startswith(KITTI_PREFIX):
        return _kitti(text.removeprefix(KITTI_PREFIX))
    path = Path(text).expanduser()
    if path.is_dir():
        try:
            detect_layout(path)
        except DatasetError:
            return ImageFolderSpec(path=path)
        return KittiReplaySpec(root=path)
    if path.is_file():
        return VideoFileSpec(path=path)
    raise ValueError(f"source {text!r} is not a camera index, URL, video file or folder")


def _kitti(rest: str) -> KittiReplaySpec:
    root, sequence = rest, None
    if not Path(rest).expanduser().is_dir() and ":" in rest:
        root, sequence = rest.rsplit(":", 1)
    if not root or sequence == "":
        raise ValueError(f"expected kitti:ROOT or kitti:ROOT:SEQUENCE, got {KITTI_PREFIX + rest!r}")
    try:
        return KittiReplaySpec(root=Path(root).expanduser(), sequence=sequence)
    except ValidationError as err:
        raise ValueError(f"{KITTI_PREFIX + rest!r}: {err.errors()[0]['msg']}") from None
