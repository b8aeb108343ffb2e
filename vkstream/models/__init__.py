"""Pure PyTorch networks and losses: no Ray, no ZeroMQ, no file access.

An online Video K-Net with PolyphonicFormer depth queries (docs/model.md): ``VideoKNet`` holds the
three separately placeable parts and the training losses, ``OnlineVideoKNet`` runs it frame by
frame over many streams with per-stream state on the model's device.
"""

from vkstream.models.config import LossWeights, MergeConfig, ModelConfig, TrackerConfig, model_presets, preset
from vkstream.models.online import FrameResult, OnlineVideoKNet, Segment, StreamState
from vkstream.models.targets import FrameTargets, build_targets
from vkstream.models.tracker import TrackMemory
from vkstream.models.video_knet import VideoKNet

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
