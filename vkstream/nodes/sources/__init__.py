"""Camera ingest: frames from cameras, network streams, video files, image folders and KITTI replays.

A stream's config names its source as a :data:`SourceSpec`; :func:`open_source` builds the
:class:`FrameSource` that yields its frames as :class:`CapturedFrame` (RGB, capture time, intrinsics).
Live sources fail with a :class:`SourceError` within their timeouts instead of hanging; files and
replays are paced at their recorded rate.
"""

from __future__ import annotations

from vkstream.nodes.sources.base import CapturedFrame, FrameSource, SourceError
from vkstream.nodes.sources.opencv import CameraSource, UrlSource, VideoFileSource
from vkstream.nodes.sources.pacing import Pacer
from vkstream.nodes.sources.parse import parse_source
from vkstream.nodes.sources.replay import ImageFolderSource, KittiReplaySource
from vkstream.nodes.sources.specs import (
    URL_SCHEMES,
    CameraSpec,
    ImageFolderSpec,
    IntrinsicsSpec,
    KittiReplaySpec,
    SourceSpec,
    UrlSpec,
    VideoFileSpec,
)

_SOURCES: dict[type, type[FrameSource]] = {  # type: ignore[type-arg]
    VideoFileSpec: VideoFileSource,
    CameraSpec: CameraSource,
    UrlSpec: UrlSource,
    ImageFolderSpec: ImageFolderSource,
    KittiReplaySpec: KittiReplaySource,
}


def open_source(spec: SourceSpec) -> FrameSource:  # type: ignore[type-arg]
    """The source for ``spec``, not yet opened."""
    try:
        cls = _SOURCES[type(spec)]
    except KeyError:
        raise TypeError(f"not a source spec: {spec!r}") from None
    return cls(spec)


__all__ = [
    "URL_SCHEMES",
    "CameraSource",
    "CameraSpec",
    "CapturedFrame",
    "FrameSource",
    "ImageFolderSource",
    "ImageFolderSpec",
    "IntrinsicsSpec",
    "KittiReplaySource",
    "KittiReplaySpec",
    "Pacer",
    "SourceError",
    "SourceSpec",
    "UrlSource",
    "UrlSpec",
    "VideoFileSource",
    "VideoFileSpec",
    "open_source",
    "parse_source",
]
