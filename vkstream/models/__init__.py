"""Pure PyTorch networks and losses: no Ray, no ZeroMQ, no file access.

An online Video K-Net with PolyphonicFormer depth queries (docs/model.md): ``VideoKNet`` holds the
three separately placeable parts and the training losses, ``OnlineVideoKNet`` runs it frame by
frame over many streams with per-stream state on the model's device.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vkstream.models.config import (
        LossWeights,
        MergeConfig,
        ModelConfig,
        TrackerConfig,
        model_presets,
        preset,
    )
    from vkstream.models.online import FrameResult, OnlineVideoKNet, Segment, StreamState
    from vkstream.models.targets import FrameTargets, build_targets
    from vkstream.models.tracker import TrackMemory
    from vkstream.models.video_knet import VideoKNet

# Loaded on first use, so that the torch-free modules (config, options, device) import without torch:
# actors that only validate a pipeline config (ingest, publisher) then start seconds sooner.
_SOURCES = {
    "LossWeights": "config",
    "MergeConfig": "config",
    "ModelConfig": "config",
    "TrackerConfig": "config",
    "model_presets": "config",
    "preset": "config",
    "FrameResult": "online",
    "OnlineVideoKNet": "online",
    "Segment": "online",
    "StreamState": "online",
    "FrameTargets": "targets",
    "build_targets": "targets",
    "TrackMemory": "tracker",
    "VideoKNet": "video_knet",
}


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"vkstream.models.{_SOURCES[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "FrameResult",
    "FrameTargets",
    "LossWeights",
    "MergeConfig",
    "ModelConfig",
    "OnlineVideoKNet",
    "Segment",
    "StreamState",
    "TrackMemory",
    "TrackerConfig",
    "VideoKNet",
    "build_targets",
    "model_presets",
    "preset",
]
