"""Camera ingest: frames from cameras, network streams, video files, image folders and KITTI replays.

Sources are registered by kind (:mod:`vkstream.nodes.registry`; packages add their own through the
``vkstream.sources`` entry points). A stream's config names its source by ``kind`` with that source's
options (:func:`source_spec_type` validates any registered kind); :func:`open_source` builds the
:class:`FrameSource` that yields its frames as :class:`CapturedFrame` (RGB, capture time, intrinsics).
Live sources fail with a :class:`SourceError` within their timeouts instead of hanging; files and
replays are paced at their recorded rate.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field

from vkstream.nodes import registry
from vkstream.nodes.sources.base import CapturedFrame, FrameSource, SourceError
from vkstream.nodes.sources.parse import parse_source
from vkstream.nodes.sources.specs import SourceOptions


def source_class(kind: str) -> type[FrameSource[Any]]:
    """The registered source of ``kind``; ValueError naming the known kinds."""
    cls = registry.load("source", kind)
    spec = getattr(cls, "Spec", None)
    if not (isinstance(cls, type) and issubclass(cls, FrameSource) and isinstance(spec, type)):
        raise ValueError(f"source kind {kind!r} ({cls!r}) is not a FrameSource with a Spec")
    if spec.model_fields["kind"].default != kind:
        raise ValueError(f"source kind {kind!r}: its Spec's kind is {spec.model_fields['kind'].default!r}")
    return cls


def source_spec_type() -> Any:
    """The config type of a stream's ``source``: any registered kind, told apart by ``kind``."""
    specs = tuple(source_class(kind).Spec for kind in registry.names("source"))
    return Annotated[Union[specs], Field(discriminator="kind")]  # noqa: UP007


def open_source(spec: SourceOptions) -> FrameSource[Any]:
    """The source for ``spec``, not yet opened."""
    return source_class(spec.kind)(spec)


__all__ = [
    "CapturedFrame",
    "FrameSource",
    "SourceError",
    "SourceOptions",
    "open_source",
    "parse_source",
    "source_class",
    "source_spec_type",
]
